"""Records: the records service and what every save and read of a record goes through — the
unit of work, save hooks, validation rules, change facts, JSON form, listing, titles,
related lists, merges, batches, the automation event chain and global search.
"""
