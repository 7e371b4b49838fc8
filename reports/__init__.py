"""Analyst-facing outputs of the warehouse: the self-contained daily HTML report.

``reports.daily`` is the entry point (``render_daily_report``, ``write_daily_report``);
the other modules each do one job: ``days`` (local days ↔ UTC windows), ``queries``
(read one day out of the marts), ``charts`` (matplotlib → inline SVG), ``html``
(escaping, number formats, tables) and ``template`` (the page around it all).
"""
