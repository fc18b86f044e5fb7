"""Who is calling: the bridge between Flask-AppBuilder's users and roles and metacrm.

Flask-AppBuilder (FAB) owns users, roles, passwords, the login pages and JWT login. This
package adapts it:

* `actor.Actor` — what services see of the caller (no Flask in it);
* `current.current_actor()` / `require_actor()` — a session login, a JWT or a personal API
  token resolved to an Actor, once per request;
* `token_store` — personal API tokens (SQLAlchemy Core, no Flask);
* `roles.sync_roles` — FAB's role table following the role metadata;
* `bridge.install_identity` — FAB set up on the app factory's engine (`database`,
  `security`); `fab_directory` reads FAB's users with Core (the adapter of the
  `kernel.users.UserDirectory` port); `users.create_user` adds users;
* `accounts` — user administration (list, create, edit, deactivate, delete; a role's
  holders moved, its FAB row removed) through FAB's ORM session, so the revocation
  listener sees every change; the admins' invariants (not yourself, not the last admin);
* `login_guard` — failed-login counters and the waits they impose on every login path;
* `session_store` + `revocation` — server-side sessions and JWT credential epochs, ended
  when a user logs out, changes password, is deactivated or loses a role.

Services import `metacrm.identity.actor` only; everything else here is web delivery.
"""
