"""Disclosure policy: who may ask for what (roles × purposes) and which fields each role may see."""
