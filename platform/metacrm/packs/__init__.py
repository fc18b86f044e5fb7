"""Packs: folders or pip distributions holding `pack.json`, installed on a running instance.

Where things are:

* `manifest` — `pack.json` validated (`schemas/pack.schema.json`) into a `PackManifest`;
* `discovery` — finding packs (METACRM_METADATA_PATH, `extensions/`, explicit paths, the
  `metacrm.packs` entry points) and reading their documents and migrations;
* `resolution` — engine and dependency ranges (`packaging`), cycles, who depends on whom;
* `store` — the installed packs and their settings (secrets encrypted, `secrets`),
  `installed_packs()` and `pack_generation()` for the extension host;
* `pack_settings` — settings checked against the pack's schema;
* `data_migrations` — `migrations/<version>/` steps run on upgrade;
* `service_account` — the `pack_<name>` role generated from `permissions`;
* `lifecycle` — plan, install, upgrade, uninstall: all or nothing, through the metadata
  service's rebase (one transaction with the schema migration and the new version);
  `pack_plan` — what a change does, as previewed and reported.
"""
