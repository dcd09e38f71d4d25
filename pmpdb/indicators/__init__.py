"""Clinical indicators computed in pmpdb next to the data (issue 8; docs/clinical-indicators.md).

- :mod:`~pmpdb.indicators.factors` — the versioned MME conversion factor tables (CDC 2022 default, CDC 2016);
- :mod:`~pmpdb.indicators.mme` — MME (and LME) per day of one dispensation;
- :mod:`~pmpdb.indicators.patient` — per-person indicators and alerts over a report period (pure functions);
- :mod:`~pmpdb.indicators.collect` — store rows in, protobuf out.
"""

from __future__ import annotations

from pmpdb.indicators.factors import DEFAULT_FACTORS, FACTOR_VERSIONS, FactorVersion, table
from pmpdb.indicators.patient import Thresholds, alerts, compute

__all__ = ["DEFAULT_FACTORS", "FACTOR_VERSIONS", "FactorVersion", "Thresholds", "alerts", "compute", "table"]
