"""The admin designer (`/app/admin/…`): business admins reshape the CRM without code.

Every editor builds new metadata documents and hands them to `changes.preview_change`,
which shows the migration plan and the validation errors before anything is applied; the
admin then applies them as one new metadata version (`MetadataAdmin.put_all`), live for
every process at once, and revertible from the history page.
"""
