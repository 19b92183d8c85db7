"""``gp deploy`` and ``gp deployments``: serve a model version, split traffic, promote, roll
back, stop; ``gp predictions``: the prediction log."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from goldenpath.cli import render
from goldenpath.cli.context import workspace
from goldenpath.cli.help import App
from goldenpath.core.errors import InvalidInput

if TYPE_CHECKING:
    from goldenpath.workspace import Workspace

JSON = typer.Option(False, "--json", help="Print as JSON.")

deployments_app = App(
    help=(
        "Deployments: what each serves, traffic, logs; promote a canary, roll back, stop.\n\n"
        "Example: gp deployments list"
    ),
    no_args_is_help=True,
)
predictions_app = App(
    help=(
        "The prediction log: every prediction served.\n\n"
        "Example: gp predictions tail fraud-api  # needs: a running deployment"
    ),
    no_args_is_help=True,
)


def _local() -> Workspace:
    """Deployments run processes on this machine (the local runtime): a local workspace."""
    ws = workspace()
    from goldenpath.workspace import Workspace

    if not isinstance(ws, Workspace):
        raise InvalidInput(
            "deployments run on this machine: they need a local workspace, not GP_SERVER",
            hint="unset GP_SERVER and use --workspace",
        )
    return ws


def deploy(
    ref: str = typer.Argument(..., help="fraud@3, fraud@champion (resolved now, then pinned)."),
    name: str = typer.Option(..., "--name", "-n", help="The deployment (its endpoint's name)."),
    port: int | None = typer.Option(
        None, "--port", help="Port to listen on (default: a free one)."
    ),
    stage: str | None = typer.Option(
        None,
        "--stage",
        help="dev (default) or prod (checked by the policies on deployment.create).",
    ),
    canary: int | None = typer.Option(
        None, "--canary", help="Send this % of traffic (1-99, sticky per entity) to the version."
    ),
    shadow: bool = typer.Option(
        False, "--shadow", help="Score and log the version beside the current one; never answer."
    ),
    host: str | None = typer.Option(
        None,
        "--host",
        help="Address to bind (default 127.0.0.1; others need TLS or --insecure-bind).",
    ),
    insecure_bind: bool = typer.Option(
        False, "--insecure-bind", help="Serve plain HTTP beyond 127.0.0.1 (tokens still required)."
    ),
    require_token: bool = typer.Option(
        False, "--require-token", help="Require a token with deployment.invoke on 127.0.0.1 too."
    ),
    tls_cert: Path | None = typer.Option(None, "--tls-cert", help="PEM certificate for HTTPS."),
    tls_key: Path | None = typer.Option(None, "--tls-key", help="PEM private key for HTTPS."),
    features: Path | None = typer.Option(
        None, "--features", help="features.py, when the model reads on-demand features."
    ),
    target: str | None = typer.Option(
        None, "--target", help="local or kubernetes (default: the stack's runtime)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Kubernetes: print the manifests, change nothing."
    ),
    output: str = typer.Option("yaml", "--output", "-o", help="--dry-run output: yaml or json."),
    namespace: str = typer.Option("default", "--namespace", help="Kubernetes namespace."),
    kubeconfig: str | None = typer.Option(
        None,
        "--kubeconfig",
        help="Kubernetes: the kubeconfig (default KUBECONFIG, ~/.kube/config).",
    ),
    json_: bool = JSON,
) -> None:
    """Serve a model version behind an endpoint (V2 inference protocol and /v1/predict).

    Deploying to an existing --name swaps the version with no failed request.

    Example: gp features apply && gp train && gp features materialize
    && gp deploy fraud@1 --name fraud-api && gp deployments stop fraud-api
    """
    ws = _local()
    runtime = target or ws.stack.runtime
    if runtime not in ("local", "kubernetes"):
        raise InvalidInput(f"--target must be local or kubernetes, got {runtime!r}")
    if output not in ("yaml", "json"):
        raise InvalidInput(f"--output must be yaml or json, got {output!r}")
    if runtime == "kubernetes":
        local_only = {
            "--port": port is not None,
            "--shadow": shadow,
            "--host": host is not None,
            "--insecure-bind": insecure_bind,
            "--require-token": require_token,
            "--tls-cert": tls_cert is not None,
            "--tls-key": tls_key is not None,
            "--features": features is not None,
        }
        given = [flag for flag, used in local_only.items() if used]
        if given:
            raise InvalidInput(
                f"{', '.join(given)}: for the local runtime, not Kubernetes",
                hint="the cluster's Service, Ingress and the serving image decide these there",
            )
        _kubernetes(ws, ref, name, stage, canary, namespace, kubeconfig, dry_run, output, json_)
        return
    if dry_run:
        raise InvalidInput("--dry-run renders Kubernetes manifests", hint="add --target kubernetes")
    if features is None and Path("features.py").is_file():
        features = Path("features.py")
    from goldenpath.cli.progress import StepProgress

    info = ws.deployments.deploy(
        ref,
        name,
        progress=StepProgress("deploy", enabled=not json_),
        port=port,
        stage=stage,
        canary=canary,
        shadow=shadow,
        host=host,
        insecure_bind=insecure_bind,
        tls_cert=tls_cert,
        tls_key=tls_key,
        features=features,
        require_token=require_token,
    )
    if json_:  # info.warnings were printed on stderr as the service warned them
        render.print_json(info.as_dict())
        return
    typer.echo(f"{info.name}: serving {info.traffic} at {info.url} ({info.stage})")
    for view in info.freshness or []:
        if view["fresh"]:
            scope = "the first " if view["more"] else ""
            typer.echo(
                f"features: {view['view']} fresh for {view['entities_fresh']:,} of "
                f"{scope}{view['entities_checked']:,} entities"
            )
    typer.echo(f"try: {curl_line(info)}")
    typer.echo(f"     curl -s {_curl_options(info)}{info.url}/v2/models/{info.model}")


def curl_line(info: Any) -> str:
    """A ``/v1/predict`` call that runs as it is (the deploy's example request)."""
    import shlex

    example = info.example or {"path": "/v1/predict", "body": {"request": {}}}
    body = json.dumps(example["body"], separators=(", ", ": "), ensure_ascii=False)
    return (
        f"curl -s -X POST {_curl_options(info)}{info.url}{example['path']} "
        f"-H 'Content-Type: application/json' -d {shlex.quote(body)}"
    )


def _curl_options(info: Any) -> str:
    """A token header when the server asks for one; the certificate to trust for HTTPS."""
    import shlex

    options = ""
    if info.settings.get("tls_cert"):
        options += f"--cacert {shlex.quote(str(info.settings['tls_cert']))} "
    if info.settings.get("require_token"):
        options += '-H "Authorization: Bearer $GP_TOKEN" '
    return options


def _kubernetes(
    ws: Workspace,
    ref: str,
    name: str,
    stage: str | None,
    canary: int | None,
    namespace: str,
    kubeconfig: str | None,
    dry_run: bool,
    output: str,
    json_: bool,
) -> None:
    from goldenpath.infra.kubernetes import to_json, to_yaml

    if dry_run:
        manifests = ws.deployments.manifests(ref, name, canary=canary, namespace=namespace)
        typer.echo(
            to_json(manifests) if output == "json" or json_ else to_yaml(manifests), nl=False
        )
        return
    applied = ws.deployments.apply_kubernetes(
        ref, name, stage=stage, canary=canary, namespace=namespace, kubeconfig=kubeconfig
    )
    if json_:
        render.print_json(applied)
        return
    for item in applied:
        typer.echo(f"applied {item.get('kind')}/{item.get('metadata', {}).get('name')}")


@deployments_app.command("list")
def list_(json_: bool = JSON) -> None:
    """Every deployment you may read: model versions, traffic, status, address.

    Example: gp deployments list
    """
    found = _local().deployments.list()
    if json_:
        render.print_json([d.as_dict() for d in found])
        return
    render.table(
        None,
        ["name", "project", "stage", "status", "serving", "url"],
        [(d.name, d.project, d.stage, d.status, d.traffic, d.url) for d in found],
        empty="no deployments yet: gp deploy MODEL@VERSION --name NAME",
    )


@deployments_app.command()
def status(name: str = typer.Argument(..., help="The deployment."), json_: bool = JSON) -> None:
    """A deployment: versions and traffic, its processes, each version's health (requests,
    errors, latency, missing features, from the server's counters) and every change it went
    through.

    Example: gp deployments status fraud-api  # needs: a running deployment
    """
    service = _local().deployments
    info = service.get(name, events=True)
    health = service.health(name, token=os.environ.get("GP_TOKEN"))
    if json_:
        render.print_json({**info.as_dict(), "health": health.as_dict()})
        return
    live = info.live
    render.fields(
        [
            ("deployment", info.name),
            ("status", info.status),
            ("serving", info.traffic),
            ("url", info.url),
            ("stage", info.stage),
            ("runtime", info.runtime),
            (
                "processes",
                f"supervisor {live.get('supervisor_pid')}, server {live.get('server_pid')}",
            ),
            ("restarts", live.get("restarts", 0)),
            ("generation", f"{info.generation} (loaded: {live.get('loaded_generation')})"),
            ("prediction log", _log_line(info)),
            ("enforced", _enforced(live.get("enforced"))),
            ("acts as", _acts_as(info)),
        ]
    )
    _health_table(health)
    render.table(
        "history",
        ["at", "action", "from", "to", "by"],
        [
            (e["at"], e["action"], e["from_version"], e["to_version"], e["by"])
            for e in info.events or []
        ],
    )


def _acts_as(info: Any) -> str:
    """The principal the deployment reads features as, and why it may not, if it may not."""
    principal = info.settings.get("principal") or f"{info.created_by} (its deployer)"
    problem = info.live.get("identity")
    return f"{principal}: {problem}" if problem else str(principal)


def _health_table(health: Any) -> None:
    """One column per version (a canary beside its primary), one row per figure."""
    from goldenpath.serving.health import FIGURE_NAMES, figures

    if health.unavailable is not None or not health.versions:
        render.out.print(f"\nhealth: {health.unavailable or 'no version loaded'}")
        return
    columns = [figures(v) for v in health.versions]
    render.table(
        "health (since each version began serving here)",
        ["", *(c[0] for c in columns)],
        [(label, *(c[i] for c in columns)) for i, label in enumerate(FIGURE_NAMES) if i],
    )


def _log_line(info: Any) -> str:
    invalid = int(info.live.get("log_invalid") or 0)
    if not invalid:
        return "every record appended"
    return (
        f"{invalid} invalid record(s) or unreadable spool file(s) not appended, kept in "
        f"deployments/{info.name}/spool.dead-letter/ (see docs/serving.md)"
    )


@deployments_app.command()
def logs(
    name: str = typer.Argument(..., help="The deployment."),
    lines: int = typer.Option(100, "--lines", "-n", help="Lines from the end of each log."),
) -> None:
    """The server's and the supervisor's logs.

    Example: gp deployments logs fraud-api  # needs: a running deployment
    """
    typer.echo(_local().deployments.logs(name, lines))


@deployments_app.command()
def stop(name: str = typer.Argument(..., help="The deployment."), json_: bool = JSON) -> None:
    """Stop serving: requests in flight finish first; the prediction log is flushed.

    Example: gp deployments stop fraud-api  # needs: a running deployment
    """
    info = _local().deployments.stop(name)
    if json_:
        render.print_json(info.as_dict())
        return
    typer.echo(f"{info.name}: stopped")


@deployments_app.command()
def promote(
    name: str = typer.Argument(..., help="The deployment."),
    reason: str | None = typer.Option(None, "--reason", help="Why (kept in the audit trail)."),
    json_: bool = JSON,
) -> None:
    """Complete a canary or shadow: promote its version to champion through the registry's
    gates and policies (as gp models promote), then send it all traffic.

    Example: gp deployments promote fraud-api  # needs: a running deployment
    """
    info = _local().deployments.promote(name, reason=reason)
    if json_:
        render.print_json(info.as_dict())
        return
    typer.echo(f"{info.name}: promoted; serving {info.traffic}")


@deployments_app.command()
def rollback(
    name: str = typer.Argument(..., help="The deployment."),
    reason: str | None = typer.Option(None, "--reason", help="Why (kept in the audit trail)."),
    json_: bool = JSON,
) -> None:
    """All traffic back to the previous version (drops a canary or shadow).

    Example: gp deployments rollback fraud-api  # needs: a running deployment
    """
    info = _local().deployments.rollback(name, reason=reason)
    if json_:
        render.print_json(info.as_dict())
        return
    typer.echo(f"{info.name}: rolled back; serving {info.traffic}")


def _enforced(enforced: Any) -> str:
    """What the running server applies, as it reported it (not what was asked for)."""
    if not isinstance(enforced, dict):
        return "nothing: no server is running"
    scheme = "https" if enforced.get("tls") else "http"
    tokens = "tokens required" if enforced.get("require_token") else "no token required"
    return f"{scheme} on {enforced.get('host')}:{enforced.get('port')}, {tokens}"


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _show_prediction(p: dict[str, Any]) -> list[tuple[str, Any]]:
    """One line per field; nested values (entities, request, output, contract) as compact
    JSON, and one line per feature (``features.amount  {"value": 20.0, ...}``), never a Python
    dict's repr."""
    pairs: list[tuple[str, Any]] = []
    for key, value in p.items():
        if key == "features" and isinstance(value, dict) and value:
            pairs += [(f"features.{name}", _json(entry)) for name, entry in value.items()]
        elif isinstance(value, dict | list):
            pairs.append((key, _json(value)))
        else:
            pairs.append((key, "null" if value is None else value))
    return pairs


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


@predictions_app.command()
def tail(
    name: str = typer.Argument(..., help="The deployment."),
    limit: int = typer.Option(20, "--limit", "-n", help="How many, newest first."),
    json_: bool = JSON,
) -> None:
    """The newest predictions of a deployment.

    Example: gp predictions tail fraud-api  # needs: a running deployment
    """
    found = _local().predictions.tail(name, limit)
    if json_:
        render.print_json(found)
        return
    render.table(
        None,
        ["request_id", "time", "version", "role", "output", "contract", "ms"],
        [
            (
                p["request_id"],
                str(p["time"])[11:23],
                p["model_version"],
                p["role"],
                " ".join(f"{k}={_short(v)}" for k, v in p["output"].items()),
                "ok" if p["contract_passed"] else "; ".join(p["contract"]),
                f"{p['latency_ms']:.2f}",
            )
            for p in found
        ],
        empty=f"no predictions logged for {name} yet",
    )


@predictions_app.command()
def show(
    request_id: str = typer.Argument(..., help="The request id (a ULID, from X-Request-Id)."),
    json_: bool = JSON,
) -> None:
    """One prediction: its inputs, features (value, freshness, source), output, contract.

    Example: gp predictions show 01J0000000000000000000000  # needs: a prediction's id
    """
    found = _local().predictions.show(request_id)
    if json_:
        render.print_json(found)
        return
    render.fields(_show_prediction(found))
