"""Ongoing monitoring of a signed-off champion (``rollcure monitor``, docs/monitoring.md).

``forward`` plays a simulated book on under the champion's decisions (the decision log they make),
``log_reader`` reads the decision log back, ``drift``, ``outcomes`` and ``arms`` compute the three
views per cycle, ``alerts`` turns them into pages, ``page`` renders the HTML and ``run`` wires them.
"""
