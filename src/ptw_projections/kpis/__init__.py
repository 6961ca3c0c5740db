"""KPIs (KPI-01..13) and compliance reports (RPT-01..04): the `kpis` projection and its queries."""
