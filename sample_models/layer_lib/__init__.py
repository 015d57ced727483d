"""A small numpy layer library in the CS231n style (see layers.py), and a
twin with one planted bug (buggy_layers.py). Checked by
sample_models/layers_check.py and sample_models/buggy_layers_check.py."""
