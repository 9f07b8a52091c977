"""Compare two saves of benchmarks/bitwise_identity.py array by array, byte for byte."""
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
assert sorted(a.files) == sorted(b.files), set(a.files) ^ set(b.files)
diff = [k for k in a.files if not (a[k].shape == b[k].shape and a[k].dtype == b[k].dtype and a[k].tobytes() == b[k].tobytes())]
print(f"{len(a.files)} arrays compared; bitwise different: {diff}")
