"""Runs every black-box test module (test_*.py) and ends with the line 'N passed, N failed'."""
import os
import sys
import time
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
pattern = sys.argv[1] if len(sys.argv) > 1 else "test_*.py"
suite = unittest.defaultTestLoader.discover(here, pattern=pattern)
start = time.time()
result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
failed = len(result.failures) + len(result.errors)
passed = result.testsRun - failed - len(result.skipped)
print("blackbox (%s, %.0fs):" % (os.environ.get("VG_BUILD", "build"), time.time() - start))
print("%d passed, %d failed, %d skipped" % (passed, failed, len(result.skipped)))
sys.exit(1 if failed else 0)
