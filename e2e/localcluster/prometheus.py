"""A real Prometheus server on loopback, with file-based service discovery that tests extend."""

from __future__ import annotations

import json
import shutil

from .config import Config
from .procs import ClusterError


def binary() -> str:
    path = shutil.which("prometheus")
    if path is None:
        raise ClusterError(
            "prometheus is not installed; run `make setup` (Debian: apt-get install prometheus)"
        )
    return path


def configure(cfg: Config) -> list[str]:
    """Write the configuration and return the command line that runs Prometheus with it."""
    home = cfg.state_dir / "prometheus"
    cfg.prometheus_targets.mkdir(parents=True, exist_ok=True)
    config = {
        "global": {"scrape_interval": cfg.scrape_interval, "evaluation_interval": cfg.scrape_interval},
        "scrape_configs": [
            {
                "job_name": "prometheus",
                "static_configs": [{"targets": [f"127.0.0.1:{cfg.ports.prometheus}"]}],
            },
            # A test adds a target by writing targets/<name>.json: [{"targets": [...], "labels": {...}}].
            {
                "job_name": "file-sd",
                "file_sd_configs": [
                    {"files": [str(cfg.prometheus_targets / "*.json")], "refresh_interval": "1s"}
                ],
            },
        ],
    }
    (home / "prometheus.yml").write_text(json.dumps(config, indent=2))
    return [
        binary(),
        f"--config.file={home / 'prometheus.yml'}",
        f"--storage.tsdb.path={home / 'data'}",
        f"--web.listen-address=127.0.0.1:{cfg.ports.prometheus}",
        "--web.enable-lifecycle",
        "--storage.tsdb.retention.time=1d",
        "--log.level=warn",
    ]
