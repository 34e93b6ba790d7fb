"""The estimators: `SentimentClassifier` (`classifier`), the linear baselines (`baselines`), metrics (`evaluation`), batched prediction (`inference`) and file scoring (`scoring`)."""
