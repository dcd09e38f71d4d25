"""Data files shipped with pmpdb (a package so that wheels include them): ``drugs.csv``, see README.md."""
