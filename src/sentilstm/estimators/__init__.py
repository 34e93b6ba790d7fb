"""The estimators: `SentimentClassifier` (`classifier`, its model file in `persistence`), the linear baselines
(`baselines`, their features in `ngrams`), metrics (`evaluation`), batched prediction (`inference`) and file
scoring (`scoring`)."""
