"""Seeding: the reference data the portal cannot run without (`seed_rules`, in
`reference`) and a demo world to click through (`seed_demo`, in `demo`)."""
