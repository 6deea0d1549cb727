"""LightningModule, losses, volume inference."""
