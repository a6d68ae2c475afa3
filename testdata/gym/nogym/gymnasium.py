# Stands in for a Python without gymnasium: importing it fails as a
# missing module does (dream's tests put this directory first on
# PYTHONPATH, whether or not the real gymnasium is installed).
raise ModuleNotFoundError("No module named 'gymnasium'", name="gymnasium")
