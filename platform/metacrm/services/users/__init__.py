"""What belongs to users and teams beyond access: a user's preferences, saved list views,
recent records and favourites, and team administration.
"""
