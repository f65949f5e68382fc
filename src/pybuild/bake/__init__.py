"""`pybuild bake`: many images from one file (plan.py reads it, run.py builds it)."""
