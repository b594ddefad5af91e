"""Regional insights: how the region's responses went, month by month, as figures, charts and CSV.

``figures`` works every figure out in SQL (a fixed number of statements,
whatever the number of incidents) from the incidents a user may see;
``charts`` draws them as SVG; ``forms`` reads the filters. The web page is
responder.web.insights; its templates are templates/insights/.
"""
