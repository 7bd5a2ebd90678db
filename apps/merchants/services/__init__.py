"""The merchants app's writes, one module per use case; import the module you need
(`from apps.merchants.services import kyb`), nothing is re-exported here.

- accounts: account creation and sign-up (step 2), email verification, asking for a call
- kyb: step 3, the legal entity, its submission and KYB decisions
- kyc: step 7, persons, their KYC submission and decisions, payments activation
- decisions: the one path KYB and KYC decisions share (transition, audit row, review queue)
- bank: the payout bank account, its verification and the payouts gate
- data_import: step 8, CSV imports of products and customers
- setup: steps 9 and 10 (hardware setup, final configuration) and going live
- steps: the guided-setup step gate the services of steps 7-10 share
- journey: the journey's own transitions (complete, block, abandon, resume)
- external_ids: the merchant's accounts in external systems, recorded by the orders saga
"""
