# Stands in for a Python without numpy: importing it fails as a missing
# module does.
raise ModuleNotFoundError("No module named 'numpy'", name="numpy")
