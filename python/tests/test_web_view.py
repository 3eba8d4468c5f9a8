"""The web view (docs/web-view.md) as a person sees it: a real ``roar run`` of a local Ray job with
1000 small tasks, ``roar dag --format html -o page.html``, and the page loaded from disk by a real
headless Chromium driven by Selenium. The fan-out must be one group node with its counts, a click
must show a job's files and digests as ``roar dag --format json`` has them, and the search must find
a function and a file. Chromium is kept off the network: its own flags, and the page's
Content-Security-Policy forbids every fetch. A screenshot for a person: test-output/web-view.png."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fixtures_ray import REPO, SCENARIOS, loopback_env, python_exe
from roar_cli import Project, new_project, roar_binary

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed: run scripts/setup")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
TASKS = 1000
SCREENSHOT = REPO / "test-output" / "web-view.png"

pytestmark = [
    pytest.mark.skipif(roar_binary() is None, reason="roar is not built: set ROAR_BIN_DIR or run scripts/build"),
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="chromium and chromium-driver: run scripts/setup"),
    pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot: run scripts/setup"),
]

# Off the network: no background services, no component or safe-browsing updates, every host name
# but the loopback unresolvable.
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
    "--disable-extensions", "--disable-client-side-phishing-detection", "--disable-domain-reliability",
    "--safebrowsing-disable-auto-update", "--metrics-recording-only", "--disable-dev-shm-usage",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,CertificateTransparencyComponentUpdater",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--window-size=1600,1000",
]


class Fanout:
    """The recorded 1000-task run, its page, and its roar.dag/1 document."""

    def __init__(self, project: Project, page: Path, dag: dict[str, Any], seconds: dict[str, float]) -> None:
        self.project, self.page, self.dag, self.seconds = project, page, dag, seconds

    def tasks(self, function: str) -> list[dict[str, Any]]:
        return [j for j in self.dag["jobs"] if j.get("ray") and j["ray"]["function"] == f"web_fanout.{function}"]


@pytest.fixture(scope="module")
def fanout(tmp_path_factory: pytest.TempPathFactory) -> Fanout:
    project = new_project(tmp_path_factory.mktemp("web"), SCENARIOS / "web_fanout.py")
    root = project.root
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    result = project.run(python_exe(), "web_fanout.py", str(TASKS), env=loopback_env(), timeout=600)
    seconds["roar run"] = time.perf_counter() - start
    assert f"{TASKS + 1} Ray tasks" in result.stderr + result.stdout
    start = time.perf_counter()
    written = project.cli("dag", "--format", "html", "-o", "page.html")
    seconds["roar dag --format html"] = time.perf_counter() - start
    assert "wrote page.html" in written.stdout
    return Fanout(project, root / "page.html", project.dag(), seconds)


@pytest.fixture(scope="module")
def browser(fanout: Fanout, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium')}")
    # The driver path given: Selenium Manager (which would download a driver) is never run.
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    try:
        start = time.perf_counter()
        driver.get(fanout.page.as_uri())
        WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.body.dataset.ready") == "1")
        fanout.seconds["page load"] = time.perf_counter() - start
        fanout.seconds["page script"] = int(driver.execute_script("return document.body.dataset.readyMs")) / 1000
        yield driver
    finally:
        driver.quit()


def text(element: WebElement) -> str:
    return str(element.get_attribute("textContent"))


def panel(driver: Any) -> WebElement:
    return driver.find_element(By.ID, "details")


def click_node(driver: Any, node_id: str) -> None:
    driver.find_element(By.CSS_SELECTOR, f'[data-node-id="{node_id}"] rect.box').click()


def test_the_run_is_recorded_and_the_page_is_written_fast(fanout: Fanout) -> None:
    print({name: round(value, 2) for name, value in fanout.seconds.items()})
    assert len(fanout.tasks("clean")) == TASKS
    assert fanout.seconds["roar dag --format html"] < 20
    assert fanout.page.stat().st_size < 20_000_000


def test_the_fan_out_is_one_group_node_with_its_counts(fanout: Fanout, browser: Any) -> None:
    assert fanout.seconds["page load"] < 10, fanout.seconds
    groups = browser.find_elements(By.CSS_SELECTOR, '[data-kind="group"]')
    assert len(groups) == 1
    label = text(groups[0])
    assert f"web_fanout.clean ×{TASKS}" in label
    assert f"{TASKS - 2} ok" in label and "2 failed" in label
    # The driver, the group, summarize: three boxes for 1002 jobs.
    assert len(browser.find_elements(By.CSS_SELECTOR, "[data-node-id]")) == 3
    # The dataset the driver wrote (1000 parts) is one label on one edge.
    labels = [text(e) for e in browser.find_elements(By.CSS_SELECTOR, ".edge text")]
    assert f"data/in/ ({TASKS} parts)" in labels, labels
    # Nothing was fetched: the page is whole.
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0


def test_a_click_shows_the_group_and_then_a_task_with_its_files_and_digests(fanout: Fanout, browser: Any) -> None:
    group = browser.find_element(By.CSS_SELECTOR, '[data-kind="group"]')
    group_id = group.get_attribute("data-node-id")
    click_node(browser, group_id)
    assert f"web_fanout.clean ×{TASKS}" in text(panel(browser))
    assert len(browser.find_elements(By.CSS_SELECTOR, ".member[data-uid]")) == TASKS
    # Upstream (the driver wrote the inputs) and downstream (summarize read the outputs) light up.
    run = next(j for j in fanout.dag["jobs"] if j["role"] == "run")
    summarize = fanout.tasks("summarize")[0]
    assert "up" in browser.find_element(By.CSS_SELECTOR, f'[data-node-id="j{run["uid"]}"]').get_attribute("class")
    assert "down" in browser.find_element(By.CSS_SELECTOR, f'[data-node-id="j{summarize["uid"]}"]').get_attribute(
        "class")

    # The failed ones, by their chip; each with its error.
    browser.find_element(By.XPATH, "//button[contains(@class,'chip') and contains(., 'failed')]").click()
    failed = browser.find_elements(By.CSS_SELECTOR, ".member[data-uid]")
    assert len(failed) == 2
    assert "is bad" in text(panel(browser))

    # An ok member: every file with its path, kind, size and digests as roar dag --format json has them.
    browser.find_element(By.XPATH, "//button[contains(@class,'chip') and contains(., 'ok')]").click()
    job = next(j for j in fanout.tasks("clean") if j["status"] == "ok" and j["outputs"])
    browser.find_element(By.CSS_SELECTOR, f'.member[data-uid="{job["uid"]}"]').click()
    shown = text(panel(browser))
    for value in (job["uid"], job["ray"]["task_id"], job["ray"]["node_id"], job["ray"]["worker_id"]):
        assert value in shown
    cards = {c.get_attribute("data-path"): text(c) for c in panel(browser).find_elements(By.CSS_SELECTOR, ".ref")}
    for ref in job["inputs"] + job["outputs"]:
        card = cards[ref["path"]]
        assert ref["kind"] in card and f"{ref['size']} B" in card
        assert ref["hashes"], ref
        for algorithm, digest in ref["hashes"].items():
            assert algorithm in card and digest in card


def test_the_search_finds_a_function_and_a_file(fanout: Fanout, browser: Any) -> None:
    search = browser.find_element(By.ID, "search")
    search.clear()
    search.send_keys("summarize")
    WebDriverWait(browser, 5).until(lambda d: d.find_element(By.ID, "results").is_displayed())
    search.send_keys(Keys.ENTER)
    summarize = fanout.tasks("summarize")[0]
    assert browser.execute_script("return document.body.dataset.selected") == f"j{summarize['uid']}"
    assert "web_fanout.summarize" in text(browser.find_element(By.CSS_SELECTOR, "#details h2"))

    # A file: the task that wrote it, inside the group, its card flashed.
    writer = next(j for j in fanout.tasks("clean") if any(o["path"].endswith("/part-42.csv") for o in j["outputs"]))
    search.clear()
    search.send_keys("work/clean/part-42.csv")
    WebDriverWait(browser, 5).until(lambda d: "file" in text(d.find_element(By.ID, "results")))
    search.send_keys(Keys.ENTER)
    assert browser.execute_script("return document.body.dataset.selected").startswith("g")
    assert writer["uid"] in text(panel(browser))
    flashed = browser.find_element(By.CSS_SELECTOR, ".ref.flash").get_attribute("data-path")
    assert flashed == fanout.project.path("work/clean/part-42.csv")


def test_the_wheel_zooms_and_a_drag_pans(browser: Any) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.wheel_input import ScrollOrigin

    def camera() -> str:
        return str(browser.find_element(By.ID, "viewport").get_attribute("transform"))

    def scale(transform: str) -> float:
        return float(transform.split("scale(")[1].rstrip(")"))

    browser.find_element(By.ID, "fit").click()
    fitted = camera()
    canvas = browser.find_element(By.ID, "graph")
    ActionChains(browser).scroll_from_origin(ScrollOrigin.from_element(canvas, 0, 100), 0, -300).perform()
    zoomed = camera()
    assert scale(zoomed) > scale(fitted) * 1.3
    ActionChains(browser).move_to_element_with_offset(canvas, 0, 250).click_and_hold().move_by_offset(120, 40) \
        .release().perform()
    assert camera() != zoomed and camera().split("scale(")[1] == zoomed.split("scale(")[1]


def test_a_screenshot_for_a_person(fanout: Fanout, browser: Any) -> None:
    group_id = browser.find_element(By.CSS_SELECTOR, '[data-kind="group"]').get_attribute("data-node-id")
    browser.find_element(By.ID, "search").clear()
    browser.find_element(By.ID, "fit").click()
    click_node(browser, group_id)
    time.sleep(1.6)  # the search's flash on its hit has faded
    print("seconds:", {name: round(value, 2) for name, value in fanout.seconds.items()})
    SCREENSHOT.parent.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000
    # And one task's details: its files and digests.
    job = next(j for j in fanout.tasks("clean") if j["status"] == "ok")
    browser.find_element(By.CSS_SELECTOR, f'.member[data-uid="{job["uid"]}"]').click()
    task_shot = SCREENSHOT.with_name("web-view-task.png")
    assert browser.save_screenshot(str(task_shot))


def test_the_command_writes_where_it_says_and_asks_for_graphviz_when_it_is_missing(project: Project) -> None:
    (project.root / "in.txt").write_text("x\n")
    project.run("sh", "-c", "cat in.txt > out.txt")
    assert "html" in project.cli("dag", "--help").stdout and "roar-dag.html" in project.cli("dag", "--help").stdout
    written = project.cli("dag", "--format", "html")
    assert "wrote roar-dag.html" in written.stdout
    assert (project.root / "roar-dag.html").read_text().startswith("<!DOCTYPE html>")
    assert project.cli("dag", "--format", "html", "-o", "-").stdout.startswith("<!DOCTYPE html>")
    project.cli("dag", "--format", "json", "-o", "dag.json")
    assert json.loads((project.root / "dag.json").read_text())["schema"] == "roar.dag/1"
    no_dot = project.cli("dag", "--format", "html", "-o", "x.html", check=False, env={"PATH": "/nonexistent"})
    assert no_dot.returncode != 0
    assert "install Graphviz" in no_dot.stderr and "apt-get install graphviz" in no_dot.stderr
    assert not (project.root / "x.html").exists()


def test_roar_serve_serves_the_same_page_for_a_registered_run(fanout: Fanout, browser: Any,
                                                               tmp_path: Path) -> None:
    """The page from `roar serve` (docs/web-view.md): sign in once with the token, then the run's
    page shows what the offline file shows."""
    from fixtures_server import start_server, stop_server

    binary = roar_binary()
    assert binary is not None
    server = start_server(binary, tmp_path / "server")
    try:
        token = server.token("viewer", writer=("web",))
        fanout.project.cli("register", "--server", server.url, "--project", "web", env={"ROAR_TOKEN": token})
        (run,) = [j for j in fanout.dag["jobs"] if j["role"] == "run"]
        browser.get(f"{server.url}/projects/web/runs/{run['uid']}")
        WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "token"))
        assert "/login" in browser.current_url
        browser.find_element(By.ID, "token").send_keys(token)
        browser.find_element(By.ID, "sign-in").click()
        WebDriverWait(browser, 60).until(lambda d: d.execute_script("return document.body.dataset.ready") == "1")
        assert browser.current_url == f"{server.url}/projects/web/runs/{run['uid']}"
        (group,) = browser.find_elements(By.CSS_SELECTOR, '[data-kind="group"]')
        assert f"web_fanout.clean ×{TASKS}" in text(group) and "2 failed" in text(group)
        assert len(browser.find_elements(By.CSS_SELECTOR, "[data-node-id]")) == 3
        browser.save_screenshot(str(SCREENSHOT.with_name("web-view-served.png")))
        # The API still wants the header: the browser's cookie opens the pages only.
        status = browser.execute_script(
            "return fetch('/api/v1/projects', {credentials: 'include'}).then(r => r.status).catch(() => 'refused')")
        assert status in (401, "refused")
        status, _, _ = server.request("GET", f"/projects/web/runs/{run['uid']}", "roar_" + "D" * 43)
        assert status == 401
    finally:
        assert stop_server(server) == 0
