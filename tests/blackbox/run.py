"""Runs every black-box test module (test_*.py) and ends with the line 'N passed, N failed'.

    python3 run.py [PATTERN]           modules matching PATTERN (default test_*.py)
    VG_TEST_SHUFFLE=SEED python3 run.py   the same in a random order: modules, the classes in a
                                       module and the tests in a class are shuffled (a class's
                                       tests stay together, so its fixture starts once). No test
                                       may depend on another having run before it."""
import os
import random
import sys
import time
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
pattern = sys.argv[1] if len(sys.argv) > 1 else "test_*.py"
suite = unittest.defaultTestLoader.discover(here, pattern=pattern)


def shuffled(s, rng):
    """The suite with every level's order shuffled; a level of test cases is one class."""
    items = list(s)
    rng.shuffle(items)
    return unittest.TestSuite(shuffled(t, rng) if isinstance(t, unittest.TestSuite) else t
                              for t in items)


seed = os.environ.get("VG_TEST_SHUFFLE")
if seed:
    print("test order shuffled with VG_TEST_SHUFFLE=%s" % seed)
    suite = shuffled(suite, random.Random(seed))
start = time.time()
result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
failed = len(result.failures) + len(result.errors)
passed = result.testsRun - failed - len(result.skipped)
print("blackbox (%s, %.0fs):" % (os.environ.get("VG_BUILD", "build"), time.time() - start))
print("%d passed, %d failed, %d skipped" % (passed, failed, len(result.skipped)))
sys.exit(1 if failed else 0)
