"""The threshold question: how many workers meet the deadline often enough? Statistics, plan, search, answer.

Named in the plural so that it never shadows the public function ``workerlab.threshold``.
"""
