"""TFX components and the Beam ingestion libraries they call."""
