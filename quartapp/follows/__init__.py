"""Writers following writers: the public entries of the people one follows, on
``/following``, live like the home page."""
