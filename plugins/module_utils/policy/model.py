# -*- coding: utf-8 -*-
# Copyright: emailsec.hes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vendor-neutral policy model every vendor parser maps into.

``Policy``  one device: its inbound ``Path``s by name, the ``AppSpace`` that numbers
            applications, and the notes the parser left (what it could not resolve).
``Path``    what a flow entering one way meets, in order: one or more ``Stage``s. The flow is
            permitted when every stage permits it; a deny in any stage is final (nftables base
            chains on one hook; ASA and PAN-OS have one stage).
``Stage``   an entry chain, the chains it can jump to, and the policy applied when the entry
            chain ends without a verdict (ASA and PAN-OS: deny).
``Rule``    a match, an action and where it came from. ``match`` is the rule's largest possible
            extent; ``match_min`` its smallest, when something in the rule cannot be resolved from
            the configuration (an fqdn object, a time-range, an unknown application, a user
            match); ``uncertain`` says what, in words. Certain rules have ``match_min is match``.

Actions: ``permit`` (ends the stage; the flow goes on to the next stage), ``deny`` (final),
``jump`` / ``goto`` (``target`` chain), ``return``, ``next`` (no verdict: counters, logs).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

ACTIONS = ("permit", "deny", "jump", "goto", "return", "next")
UNKNOWN_APP = 0
SMTP_APP = 1


class PolicyError(ValueError):
    """A model that cannot be built or analysed; the message names the rule and the reason."""


class Rule(object):
    __slots__ = ("key", "label", "action", "match", "match_min", "uncertain", "target", "origin")

    def __init__(self, key, label, action, match, match_min=None, uncertain=(), target=None, origin=None):
        if action not in ACTIONS:
            raise PolicyError("rule %s: action %r is not one of %s" % (label, action, ", ".join(ACTIONS)))
        if action in ("jump", "goto") and not target:
            raise PolicyError("rule %s: %s needs a target chain" % (label, action))
        self.key = key
        self.label = label
        self.action = action
        self.match = list(match)
        self.match_min = self.match if match_min is None or not uncertain else list(match_min)
        self.uncertain = tuple(uncertain)
        self.target = target
        self.origin = origin or {}

    def __repr__(self):
        return "Rule(%r, %s)" % (self.label, self.action)


class Chain(object):
    __slots__ = ("name", "rules")

    def __init__(self, name, rules=()):
        self.name = name
        self.rules = list(rules)


class Stage(object):
    __slots__ = ("name", "entry", "chains", "policy")

    def __init__(self, name, entry, chains, policy="deny"):
        if policy not in ("permit", "deny"):
            raise PolicyError("stage %s: policy %r is not permit or deny" % (name, policy))
        self.name = name
        self.entry = entry
        self.chains = dict((chain.name, chain) for chain in chains)
        self.policy = policy
        if entry not in self.chains:
            raise PolicyError("stage %s: entry chain %s is missing" % (name, entry))

    def all_rules(self):
        for chain in self.chains.values():
            for rule in chain.rules:
                yield chain.name, rule


class Path(object):
    __slots__ = ("name", "stages", "description")

    def __init__(self, name, stages, description=None):
        self.name = name
        self.stages = list(stages)
        self.description = description or name

    @classmethod
    def single(cls, name, rules, policy="deny", description=None):
        """The common case: one ordered rule list and a default verdict."""
        return cls(name, [Stage(name, name, [Chain(name, rules)], policy)], description)

    def all_rules(self):
        for stage in self.stages:
            for chain_name, rule in stage.all_rules():
                yield stage, chain_name, rule


class AppSpace(object):
    """Numbers for application names. ``0`` is an application the configuration never names;
    ``1`` is ``smtp``, so that witnesses prefer it."""

    def __init__(self, names=()):
        self.ids = {"smtp": SMTP_APP}
        self.names = {UNKNOWN_APP: "(any other application)", SMTP_APP: "smtp"}
        for name in names:
            self.id(name)

    def id(self, name):
        if name not in self.ids:
            number = len(self.names)
            self.ids[name] = number
            self.names[number] = name
        return self.ids[name]

    def name(self, number):
        return self.names.get(number, "app#%d" % number)


class Policy(object):
    __slots__ = ("vendor", "paths", "apps", "notes")

    def __init__(self, vendor, paths, apps=None, notes=()):
        self.vendor = vendor
        self.paths = dict((path.name, path) for path in paths)
        # None: the vendor has no application dimension (every rule matches all of it).
        self.apps = apps
        self.notes = list(notes)

    def uncertain_rules(self):
        seen = []
        for path in self.paths.values():
            for stage, chain, rule in path.all_rules():
                if rule.uncertain and rule not in seen:
                    seen.append(rule)
        return seen
