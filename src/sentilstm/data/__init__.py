"""Labelled tables in (`tables`), named public datasets (`datasets`), their download (`download`) and database URLs
(`databases`)."""
