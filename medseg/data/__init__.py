"""Manifests, label tables, readers, transforms, slice/patch data modules, phantoms."""
