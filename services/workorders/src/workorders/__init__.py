"""CityOps workorders: a department's share of a case, from dispatch to feedback (签收 → 反馈)."""
