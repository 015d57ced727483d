"""Training hyperparameters shared by the models (star-imported by m07)."""
SEED = 42
EPOCHS = 10
PRINT_EVERY = 100
LEARNING_RATE = 1e-3
