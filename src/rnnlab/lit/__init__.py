"""The LightningModules: one class per task family (classifier, language model, generator)."""
