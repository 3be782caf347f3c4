"""Main's history and flakiness on a data branch of the repository."""
