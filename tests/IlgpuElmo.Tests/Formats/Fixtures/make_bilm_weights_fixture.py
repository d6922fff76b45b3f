"""Writes bilm_weights_tiny.hdf5 with h5py (the reference HDF5 library), in bilm-tf's weight-file layout
for the options in BilmWeightNamesTests.TinyCharOptions: d=4, filters [[1,4],[2,6]], n_highway 1,
projection_dim 8, dim 16, n_layers 2. Value i of the k-th dataset (in the order below) is
round(((i * 7 + k * 13) % 101) / 100 - 0.5, 4): the C# test recomputes it. Storage varies on purpose:
contiguous float32, chunked + gzip + shuffle, float64. Run: python3 make_bilm_weights_fixture.py
"""
import h5py
import numpy as np

d, filters, n_highway, p, h, layers = 4, [(1, 4), (2, 6)], 1, 8, 16, 2
f = sum(c for _, c in filters)
specs = [("char_embed", (261, d))]
for k, (w, c) in enumerate(filters):
    specs += [(f"CNN/W_cnn_{k}", (1, w, d, c)), (f"CNN/b_cnn_{k}", (c,))]
for k in range(n_highway):
    specs += [(f"CNN_high_{k}/W_carry", (f, f)), (f"CNN_high_{k}/b_carry", (f,)),
              (f"CNN_high_{k}/W_transform", (f, f)), (f"CNN_high_{k}/b_transform", (f,))]
specs += [("CNN_proj/W_proj", (f, p)), ("CNN_proj/b_proj", (p,))]
for r in range(2):
    for l in range(layers):
        s = f"RNN_{r}/RNN/MultiRNNCell/Cell{l}/LSTMCell"
        specs += [(s + "/W_0", (p + p, 4 * h)), (s + "/B", (4 * h,)), (s + "/W_P_0", (h, p))]

with h5py.File("bilm_weights_tiny.hdf5", "w") as out:
    for k, (name, shape) in enumerate(specs):
        n = int(np.prod(shape))
        values = np.round(((np.arange(n) * 7 + k * 13) % 101) / 100 - 0.5, 4).reshape(shape)
        if name.endswith("/W_0"):
            out.create_dataset(name, data=values.astype("float32"), chunks=True, compression="gzip", shuffle=True)
        elif name.endswith("/B"):
            out.create_dataset(name, data=values.astype("float64"))
        else:
            out.create_dataset(name, data=values.astype("float32"))
