"""`{{ svg|csp_svg:request.csp_nonce }}`: inline SVG drawn by a library (the ops dashboard's
pygal charts) kept intact under the Content-Security-Policy, which allows no inline style.

Its <style> elements get the request's nonce (the policy allows styles carrying it). A style
attribute cannot carry a nonce, so attributes are dropped: pygal writes only one, which hides
its tooltip, and that tooltip never shows anyway since the chart has no script.
"""

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

_STYLE_ATTRIBUTE = re.compile(r'\sstyle="[^"]*"')


@register.filter
def csp_svg(svg: SafeString, nonce) -> SafeString:
    svg = _STYLE_ATTRIBUTE.sub("", svg)
    return mark_safe(svg.replace("<style", f'<style nonce="{escape(nonce)}"'))
