"""Model selection: K-fold cross-validation (`crossval`) and hyperparameter search (`tuning`)."""
