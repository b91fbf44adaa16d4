"""Command-line tools: `flask seed-demo`, `flask outbox run`, `flask audit verify`,
`flask import clients|caregivers|visits FILE --agency SLUG [--dry-run]`, `flask visits generate`
(weekly patterns' visits ahead; run it nightly)."""

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

from app.extensions import db
from app.models import Agency
from app.tenancy import all_agencies


def register_cli(app: Flask) -> None:
    @app.cli.command("seed-demo")
    @click.option("--scale", type=click.Choice(["small", "large"]), default="small")
    @click.option("--if-empty", is_flag=True, help="Do nothing when an agency already exists.")
    def seed_demo_command(scale, if_empty):
        """Load the deterministic demo data (DESIGN.md "Demo data")."""
        from app.demo import seed_demo

        with all_agencies():
            if db.session.scalar(select(func.count(Agency.id))):
                if if_empty:
                    click.echo("Database already has data; demo not loaded.")
                    return
                raise click.ClickException("The database is not empty; use a fresh database.")
            seed_demo(scale)
            db.session.commit()
        click.echo(f"Demo data loaded ({scale}). Sign in as margaretjones / porchlight-demo.")

    outbox = AppGroup("outbox", help="The mail outbox.")
    app.cli.add_command(outbox)

    @outbox.command("run")
    @click.option("--once", is_flag=True, help="Send what is due, then stop.")
    @click.option("--interval", default=5.0, show_default=True, help="Seconds between rounds.")
    def outbox_run(once, interval):
        """Send queued mail with retries and back-off."""
        from app.services.mail import run_worker
        from app.services.password_resets import deliver_reset_requests

        with all_agencies():
            run_worker(interval=interval, once=once, before_round=deliver_reset_requests)

    audit_group = AppGroup("audit", help="The audit log.")
    app.cli.add_command(audit_group)

    @audit_group.command("verify")
    @click.option("--agency", "slug", help="Check this agency's chain only (default: every chain).")
    def audit_verify(slug):
        """Check the audit hash chains; names the first broken event of each, and exits 1 if any."""
        from app.services.audit import chain_breaks

        agency_id = None
        if slug is not None:
            agency_id = db.session.scalar(select(Agency.id).where(Agency.slug == slug))
            if agency_id is None:
                raise click.ClickException(f"no agency {slug!r}")
        breaks = chain_breaks(agency_id)
        slugs = dict(db.session.execute(select(Agency.id, Agency.slug)).tuples().all())
        for chain, event_id in sorted(breaks.items(), key=lambda item: item[1]):
            name = slugs.get(chain, "(no agency)")
            click.echo(f"{name}: audit chain broken at event {event_id}", err=True)
        if breaks:
            raise click.exceptions.Exit(1)
        click.echo(f"audit chain intact ({slug or 'every agency'})")

    import_group = AppGroup("import", help="Import clients, caregivers or visits from a CSV file.")
    app.cli.add_command(import_group)

    def _import_command(kind):
        @import_group.command(kind)
        @click.argument("path", type=click.Path(exists=True, dir_okay=False))
        @click.option("--agency", "slug", required=True, help="The agency's slug.")
        @click.option("--dry-run", is_flag=True, help="List what would change and the row errors only.")
        def run_import(path, slug, dry_run):
            """Import the file all or nothing, matched by external_id (a re-import updates)."""
            from app.services import csv_import
            from app.tenancy import agency_scope

            agency = db.session.scalar(select(Agency).where(Agency.slug == slug))
            if agency is None:
                raise click.ClickException(f"no agency {slug!r}")
            with open(path, "rb") as handle:
                data = handle.read(csv_import.MAX_BYTES + 1)
            with agency_scope(agency):
                if dry_run:
                    outcome = csv_import.preview(agency, kind, data)
                else:
                    outcome = csv_import.import_rows(agency, None, kind, data)
                    if outcome.imported:
                        db.session.commit()
                    else:
                        db.session.rollback()
            for error in outcome.errors:
                column = f" {error.column}" if error.column else ""
                click.echo(f"row {error.row_number}{column}: {error.message}", err=True)
            verb = "would create" if dry_run or not outcome.imported else "created"
            click.echo(
                f"{kind}: {verb} {outcome.created}, update {outcome.updated}, "
                f"unchanged {outcome.unchanged}, errors {len(outcome.errors)}"
                + ("" if dry_run or outcome.imported else " — nothing imported")
            )
            if outcome.errors:
                raise click.exceptions.Exit(1)

    for kind in ("clients", "caregivers", "visits"):
        _import_command(kind)

    visits_group = AppGroup("visits", help="Visits.")
    app.cli.add_command(visits_group)

    @visits_group.command("generate")
    @click.option("--weeks", default=8, show_default=True, type=click.IntRange(1, 104))
    def visits_generate(weeks):
        """Generate every agency's weekly patterns ahead (idempotent: what exists is not redone)."""
        from app.services.visit_series import generate_ahead
        from app.tenancy import agency_scope

        with all_agencies():
            agencies = db.session.scalars(select(Agency).order_by(Agency.id)).all()
        total = 0
        for agency in agencies:
            with agency_scope(agency):
                created = generate_ahead(agency, agency.today(), weeks)
                db.session.commit()
            total += created
            if created:
                click.echo(f"{agency.slug}: {created} visits created")
        click.echo(f"visits generated: {total}")
