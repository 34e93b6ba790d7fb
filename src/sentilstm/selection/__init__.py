"""Model selection: K-fold cross-validation (`crossval`) and hyperparameter search (`tuning`; its search space in
`space`, one trial and the table of trials in `trials`)."""
