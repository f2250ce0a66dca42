"""Model code: ranking, LambdaMART compilation, graphics ops, probabilistic models."""
