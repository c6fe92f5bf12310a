"""Check demo/web_demo.py in a real headless browser and take the screenshot of the docs.

Drives Chromium (Debian's ``chromium`` package, ``/usr/bin/chromium``) with Playwright: loads the
page, uploads a photo, waits for the three returned images, downloads them, moves the threshold
slider (its number box) and waits for a new mask, then saves a full-page screenshot. Compare the
downloaded images with :func:`dbdseg.apis.inference_demo.render_views` of the same photo (see
docs/en/deployment.md). Playwright is not a dbdseg dependency: run this with any Python that has
``pip install playwright`` (no browser download is needed: the system Chromium is used)::

    python demo/web_demo.py CONFIG CKPT --port 7860 &
    python demo/browser_check.py http://127.0.0.1:7860/ PHOTO OUT_DIR [THRESHOLD]

Writes ``OUT_DIR/page_{map,overlay,mask}.png`` (threshold 0.5), ``OUT_DIR/page_mask_thr.png`` (at
THRESHOLD, default 0.7) and ``OUT_DIR/screenshot.png``.
"""
import sys
import time


def main(argv=None):
    from playwright.sync_api import sync_playwright
    argv = sys.argv[1:] if argv is None else argv
    url, photo, out_dir = argv[:3]
    threshold = argv[3] if len(argv) > 3 else '0.7'
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path='/usr/bin/chromium', headless=True, args=['--no-sandbox'])
        page = browser.new_page(viewport={'width': 1280, 'height': 1000})
        # Gradio keeps connections open (and tries web fonts): wait for elements, not the network
        page.goto(url, wait_until='domcontentloaded', timeout=120000)
        page.wait_for_selector('#photo input[type=file]', state='attached', timeout=120000)
        page.locator('#photo input[type=file]').set_input_files(photo)
        for key in ('map', 'overlay', 'mask'):
            page.wait_for_selector(f'#{key} img', timeout=180000)
        time.sleep(2)
        srcs = {
            k: page.locator(f'#{k} img').first.get_attribute('src')
            for k in ('map', 'overlay', 'mask')
        }
        for key, src in srcs.items():
            data = page.request.get(src).body()
            with open(f'{out_dir}/page_{key}.png', 'wb') as f:
                f.write(data)
            print(f'{key}: {len(data)} bytes from {src}')
        box = page.locator('#threshold input[type=number]')
        box.fill(threshold)
        box.press('Enter')
        new = srcs['mask']
        for _ in range(120):
            time.sleep(0.5)
            new = page.locator('#mask img').first.get_attribute('src')
            if new != srcs['mask']:
                break
        print(f'mask redrawn at threshold {threshold}: {new != srcs["mask"]}')
        with open(f'{out_dir}/page_mask_thr.png', 'wb') as f:
            f.write(page.request.get(new).body())
        time.sleep(1)
        page.screenshot(path=f'{out_dir}/screenshot.png', full_page=True)
        browser.close()


if __name__ == '__main__':
    main()
