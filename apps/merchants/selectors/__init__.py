"""Reads for the merchant's own pages, one module per subject (named as in
apps.merchants.services): `steps` (step numbers and pages, gates, what blocks going live),
`dashboard`, `kyb` (step 3), `kyc` (step 7's persons), `bank` (the payout account),
`data_import` (step 8) and `setup` (steps 9 and 10: hardware setup, final configuration)."""
