"""File edges of the pipeline: finding packets in the inbox, checking and rendering their files."""
