"""`routebench download` and `routebench info` (filled in by the dataset layer)."""
