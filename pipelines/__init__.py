"""Pipeline factories, the command line and the demo: the parts users run."""
