"""Marketing (issue 17): campaigns, segments, consent, web forms and mass mailings."""
