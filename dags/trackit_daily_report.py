"""Airflow DAG ``trackit_daily_report``: the HTML report of yesterday's fleet activity.

Runs once a day at 00:30 local time (``TRACKIT_TZ``, default UTC), half an hour after
midnight so that the 15-minute ``trackit_warehouse`` DAG has built the last records of
the day. Each run's data interval is the local day it reports on (a cron *data interval*
timetable: the run at 00:30 on the 11th covers 00:30 on the 10th to 00:30 on the 11th,
and reports the 10th), so backfills and reruns of an old run rewrite that day's report.

The report goes to ``$TRACKIT_DATA/reports/<day>.html`` (``$TRACKIT_LOCAL/reports`` when
``TRACKIT_DATA`` is on object storage), published atomically; rerunning
a day replaces its page. Nothing heavy is imported when Airflow parses this file.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta

from airflow.sdk import CronDataIntervalTimetable, dag, task

REPORT_TZ = os.environ.get("TRACKIT_TZ") or "UTC"
log = logging.getLogger(__name__)


@dag(
    dag_id="trackit_daily_report",
    description="Self-contained HTML report of yesterday's fleet activity",
    schedule=CronDataIntervalTimetable("30 0 * * *", timezone=REPORT_TZ),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 3, "retry_delay": timedelta(minutes=10)},
    tags=["trackit", "report"],
)
def trackit_daily_report() -> None:
    @task
    def write_report(data_interval_start: datetime | None = None) -> str:
        """Write the report of the local day the run's data interval starts on."""
        from lake.layout import data_layout
        from reports.daily import report_path, write_daily_report
        from reports.days import local_day_of

        if data_interval_start is None:
            raise ValueError("trackit_daily_report needs a data interval (a scheduled run)")
        day = local_day_of(data_interval_start, REPORT_TZ)
        layout = data_layout(None).resolve()
        out = write_daily_report(layout, day, report_path(layout.root, day),
                                 REPORT_TZ)
        log.info("report of %s (%s) written to %s", day, REPORT_TZ, out)
        return str(out)

    write_report()


trackit_daily_report()
