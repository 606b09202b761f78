"""`make eval` part 2: detection. Each set is its own evaluation (`--only NAME`):

- `detection-ssh`: `ssh_bruteforce` against an independent reference on real and
  generated auth logs (`detection_ssh`);
- `detection-crowdsec`: does the pack alert on the sources CrowdSec's hub tests expect
  (`detection_crowdsec`);
- `detection-wazuh`: Wazuh's level >= 5 test lines that vigil alerts on too
  (`detection_wazuh`);
- `detection-web`: precision/recall/F1 of the web rules on labelled requests
  (`detection_web`);
- `detection-sigmahq`: SigmaHQ rules for the logsources vigil parses that compile
  (`detection_sigmahq`).
"""

from __future__ import annotations

from eval import (
    detection_crowdsec,
    detection_sigmahq,
    detection_ssh,
    detection_wazuh,
    detection_web,
)
from eval.base import Evaluation

EVALUATIONS: dict[str, Evaluation] = {
    detection_ssh.NAME: detection_ssh.evaluate,
    detection_crowdsec.NAME: detection_crowdsec.evaluate,
    detection_wazuh.NAME: detection_wazuh.evaluate,
    detection_web.NAME: detection_web.evaluate,
    detection_sigmahq.NAME: detection_sigmahq.evaluate,
}
