#!/usr/bin/env python3
"""Rebuilds tests/data/pages/: the labelled page set (issue 15).

Run from anywhere: `python3 tests/data/pages/generate.py`. It rewrites every page file,
manifest.csv (file,label,vendor,country,language,encoding,notes) and http.csv (the URL each page
was fetched from, its status and its response headers, for tests that replay the page as a probe's
HTTP response). Pages are written as raw bytes in their declared encoding; characters the encoding
lacks become numeric character references, as a real server's templating would do.

The blockpages are modelled on real ones: the text OONI's fingerprint rows were written from
(probe/data/fingerprints_http.csv, the row named in each page's notes), OONI explorer
measurements quoted in those rows and OONI/Citizen Lab reports. See SOURCES.md.
"""
import csv
import io
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
PAGES = []

PYCODEC = {
    "utf-8": "utf-8", "windows-1251": "cp1251", "koi8-r": "koi8_r", "koi8-u": "koi8_u",
    "windows-1256": "cp1256", "gbk": "gbk", "gb2312": "gb2312", "big5": "big5", "euc-kr": "euc_kr",
    "shift_jis": "shift_jis", "euc-jp": "euc_jp", "iso-8859-1": "latin_1", "iso-8859-2": "iso8859_2",
    "iso-8859-5": "iso8859_5", "iso-8859-9": "iso8859_9", "windows-1254": "cp1254",
    "windows-874": "cp874", "tis-620": "tis_620", "windows-1252": "cp1252", "utf-16": "utf-16",
    "iso-8859-6": "iso8859_6", "windows-1250": "cp1250", "iso-8859-7": "iso8859_7",
}


def add(file, label, vendor, country, language, encoding, notes, html, url, status=200, headers=None,
        charset_in_header=True):
    """One page. headers: list of (name, value); a Content-Type is added unless given.
    charset_in_header: whether the Content-Type names the charset (else only the page's meta does)."""
    headers = list(headers or [])
    if not any(n.lower() == "content-type" for n, _ in headers) and html is not None:
        ct = "text/html"
        if charset_in_header:
            ct += "; charset=" + ("UTF-16" if encoding == "utf-16" else encoding)
        headers.append(("Content-Type", ct))
    PAGES.append(dict(file=file, label=label, vendor=vendor, country=country, language=language,
                      encoding=encoding, notes=notes, html=html, url=url, status=status, headers=headers))


def meta(enc):
    return f'<meta http-equiv="Content-Type" content="text/html; charset={enc}">'


# ---------------------------------------------------------------------------------------------
# Blockpages
# ---------------------------------------------------------------------------------------------
RU_URLS = ["http://rutracker.org/forum/index.php", "http://navalny.com/", "http://www.linkedin.com/",
           "http://meduza.io/", "http://www.kasparov.ru/", "http://grani.ru/", "http://protonvpn.com/"]


def ru_rkn_generic():
    # ooni.ru_0 / ooni.ru_5: the wording most Russian ISPs copy from the RKN template.
    tmpl = """<!DOCTYPE html>
<html lang="ru">
<head>
{meta}
<title>{title}</title>
<style>body{{font-family:Arial,sans-serif;background:#f4f4f4}} .box{{width:640px;margin:60px auto;background:#fff;padding:30px;border:1px solid #ccc}}</style>
</head>
<body>
<div class="box">
<h2>{head}</h2>
<p>{text}</p>
<p>Запрашиваемый ресурс: <b>{url}</b></p>
<p>Проверить, включён ли ресурс в реестр, можно на сайте <a href="http://eais.rkn.gov.ru/">eais.rkn.gov.ru</a>.</p>
<p style="color:#888">{isp}</p>
</div>
</body>
</html>
"""
    law = "Доступ к сайту ограничен в соответствии с Федеральными законами"
    variants = [
        ("windows-1251", True, "Доступ ограничен", "Доступ к ресурсу ограничен", law + " «Об информации, информационных технологиях и о защите информации» (149-ФЗ).", "ООО «Сибирские сети»", RU_URLS[0], ""),
        ("koi8-r", False, "Доступ ограничен", "Доступ к ресурсу ограничен", law + " «Об информации, информационных технологиях и о защите информации».", "ЗАО «Квант-телеком»", RU_URLS[1], "charset only in meta"),
        ("utf-8", True, "Доступ ограничен", "Доступ к ресурсу ограничен", law + " от 27.07.2006 № 149-ФЗ.", "АО «Электросвязь»", RU_URLS[2], ""),
        ("windows-1251", False, "Ресурс заблокирован", "Ресурс заблокирован", law.replace(" ", "&nbsp;", 3) + " Российской Федерации.", "ООО «Нэткомпани»", RU_URLS[3], "reworded: non-breaking spaces as &nbsp; inside the sentence; charset only in meta"),
        ("utf-8", True, "Доступ ограничен", "ДОСТУП ОГРАНИЧЕН", law.replace("Федеральными законами", "Федеральными\n    законами") + ".", "ООО «Телеком-Сервис»", RU_URLS[4], "reworded: line break inside the sentence"),
        ("iso-8859-5", True, "Доступ ограничен", "Доступ к ресурсу ограничен", law + ".", "ООО «Радуга»", RU_URLS[5], "ISO-8859-5 (rare, seen on old Cisco SCE templates)"),
    ]
    for i, (enc, hdr, title, head, text, isp, url, note) in enumerate(variants, 1):
        m = meta(enc)
        add(f"blockpages/ru/rkn_generic_{i}.html", "blockpage", "ru_rkn_generic", "RU", "ru", enc,
            ("after ooni.ru_0/ooni.ru_5 (RKN template wording, eais.rkn.gov.ru link); " + note).strip("; "),
            tmpl.format(meta=m, title=title, head=head, text=text, url=url, isp=isp), url, 200,
            [("Server", "nginx")], hdr)


def ru_rostelecom():
    # ooni.ru_38 <title>block-system</title>; cl.isp_ru_rostelcom_warning_block_1/2 (Yandex Metrika ids)
    counters = ["38740850", "25730126", "38740850", "25730126", "38740850"]
    for i, url in enumerate(RU_URLS[:5], 1):
        enc = ["utf-8", "windows-1251", "utf-8", "koi8-r", "utf-8"][i - 1]
        title = "block-system" if i != 5 else "Доступ к ресурсу ограничен — Ростелеком"
        html = f"""<!DOCTYPE html>
<html>
<head>
{meta(enc)}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/static/css/block.css">
</head>
<body class="block">
<div class="logo"><img src="/static/img/rt_logo.svg" alt="Ростелеком"></div>
<div class="content">
<h1>Доступ к&nbsp;запрашиваемому ресурсу ограничен</h1>
<p>Уважаемый абонент! Доступ к ресурсу <span class="url">{url}</span> ограничен на основании Федерального закона от 27.07.2006 №149-ФЗ «Об информации, информационных технологиях и о защите информации».</p>
<p>Информация о блокировке: <a href="https://blocklist.rkn.gov.ru/">blocklist.rkn.gov.ru</a></p>
</div>
<!-- Yandex.Metrika counter -->
<script type="text/javascript">(function(m,e,t,r,i,k,a){{m[i]=m[i]||function(){{(m[i].a=m[i].a||[]).push(arguments)}};k=e.createElement(t),a=e.getElementsByTagName(t)[0],k.async=1,k.src=r,a.parentNode.insertBefore(k,a)}})(window,document,"script","https://mc.yandex.ru/metrika/tag.js","ym");ym({counters[i-1]},"init",{{clickmap:true}});</script>
<noscript><div><img src="https://mc.yandex.ru/watch/{counters[i-1]}" style="position:absolute;left:-9999px;" alt=""></div></noscript>
</body>
</html>
"""
        note = "after ooni.ru_38 and cl.isp_ru_rostelcom_warning_block_1/2 (Metrika counter)"
        if i == 5:
            note += "; reworded title (the block-system title replaced)"
        add(f"blockpages/ru/rostelecom_{i}.html", "blockpage", "ru_rostelecom", "RU", "ru", enc, note, html, url,
            200, [("Server", "nginx/1.18.0")], i % 2 == 1)


def ru_mts():
    for i, url in enumerate(RU_URLS[:4], 1):
        enc = "utf-8" if i % 2 else "windows-1251"
        html = f"""<html><head>{meta(enc)}<title>МТС</title></head>
<body style="margin:0;padding:0">
<iframe src="http://subblock.mts.ru/api/v1/block?url={url}&amp;reason=rkn" style="width:100%;height:100%;border:0" scrolling="auto"></iframe>
<noscript>Доступ к ресурсу ограничен по требованию Роскомнадзора.</noscript>
</body></html>
"""
        add(f"blockpages/ru/mts_{i}.html", "blockpage", "ru_mts", "RU", "ru", enc,
            "after ooni.ru_3 / cl.isp_ru_mts_block (iframe to subblock.mts.ru)", html, url, 200, [("Server", "nginx")])


def ru_beeline():
    for i, url in enumerate(RU_URLS[1:5], 1):
        enc = ["utf-8", "windows-1251", "utf-8", "windows-1251"][i - 1]
        extra = "" if i < 4 else "<p>Обновлено: страница перенесена на новый дизайн.</p>"
        html = f"""<!DOCTYPE html>
<html lang="ru"><head>{meta(enc)}<title>Билайн — доступ к ресурсу ограничен</title></head>
<body>
<div class="wrapper">
<img src="http://static.beeline.ru/upload/images/logo.png" alt="Билайн">
<h1>Доступ к запрашиваемому ресурсу ограничен</h1>
<p>Ресурс {url} включён в Единый реестр запрещённой информации в соответствии с Федеральным законом №149-ФЗ.</p>
<p>Подробнее о блокировках: <a href="http://www.beeline.ru/customers/help/safe-beeline/">http://www.beeline.ru/customers/help/safe-beeline/</a></p>
{extra}
</div>
</body></html>
"""
        add(f"blockpages/ru/beeline_{i}.html", "blockpage", "ru_beeline", "RU", "ru", enc,
            "after ooni.ru_41 (safe-beeline help link)", html, url, 200, [("Server", "Apache")], i != 2)


def ru_megafon():
    for i, url in enumerate(RU_URLS[2:6], 1):
        enc = "utf-8"
        variant = i % 2
        body = f"""<!DOCTYPE html>
<html lang="ru"><head><meta charset="utf-8"><title>МегаФон — сайт заблокирован</title>
<!-- Google Tag Manager -->
<script>(function(w,d,s,l,i){{w[l]=w[l]||[];w[l].push({{'gtm.start':new Date().getTime(),event:'gtm.js'}});var f=d.getElementsByTagName(s)[0],j=d.createElement(s);j.async=true;j.src='https://www.googletagmanager.com/gtm.js?id='+i;f.parentNode.insertBefore(j,f);}})(window,document,'script','dataLayer','GTM-WBQ8X7M');</script>
</head>
<body>
<div class="page">
<h1>Сайт заблокирован</h1>
<p>Доступ к {url} ограничен по решению органов государственной власти.</p>
{'<p><a class="btn" href="rkn">Отменить</a></p>' if variant else '<p><a href="https://moscow.megafon.ru/help/info/rkn/">Почему сайт заблокирован?</a></p>'}
</div>
</body></html>
"""
        add(f"blockpages/ru/megafon_{i}.html", "blockpage", "ru_megafon", "RU", "ru", enc,
            "after ooni.ru_73 (GTM-WBQ8X7M) and ooni.ru_75", body, url, 200, [("Server", "nginx")])


def ru_small_isps():
    rows = [
        ("ru_tele2", "tele2", "utf-8", "<title>Tele2 — доступ ограничен</title>",
         '<p>Доступ к ресурсу ограничен. Подробнее: <a href="https://t2rkn.com/">t2rkn.com</a></p>', "after ooni.ru_28 (t2rkn.com)"),
        ("ru_tele2", "tele2", "windows-1251", "<title>Tele2</title>",
         '<script>window.location.href="https://t2rkn.com/?u={url}";</script><p>Доступ ограничен по требованию РКН.</p>', "after ooni.ru_28, forward variant"),
        ("ru_tele2", "tele2", "utf-8", "<title>Доступ ограничен | Tele2</title>",
         '<p>Страница <b>{url}</b> недоступна на основании решения уполномоченного органа.</p><img src="//t2rkn.com/img/t2.png">', "after ooni.ru_28, reworded"),
        ("ru_ttk", "ttk", "windows-1251", "<title>TTK :: Доступ к ресурсу ограничен</title>",
         "<h1>Доступ к ресурсу ограничен</h1><p>Ресурс {url} внесён в реестр запрещённой информации.</p>", "after ooni.ru_30 (TTK title)"),
        ("ru_ttk", "ttk", "koi8-r", "<title>TTK :: Доступ к ресурсу ограничен</title>",
         "<h1>Доступ ограничен</h1><p>Адрес: {url}. Основание: 149-ФЗ.</p>", "after ooni.ru_30"),
        ("ru_ttk", "ttk", "utf-8", "<title>ТТК :: Доступ к ресурсу ограничен</title>",
         "<h1>Доступ ограничен</h1><p>Адрес: {url}. Основание: 149-ФЗ.</p>", "after ooni.ru_30; reworded: the title's TTK now in Cyrillic letters (ТТК)"),
        ("ru_ertelecom", "ertelecom", "utf-8", "<title>Дом.ру — доступ ограничен</title>",
         "<h1>Доступ ограничен</h1><p>{url} заблокирован по требованию Роскомнадзора.</p><script>ga('create', 'UA-42895529-7', 'auto');</script>", "after cl.isp_ru_ertelecom_rkn_blockpage (GA id)"),
        ("ru_ertelecom", "ertelecom", "windows-1251", "<title>Дом.ру</title>",
         "<h1>Сайт заблокирован</h1><p>Запрашиваемый ресурс {url} заблокирован.</p><script>_gaq.push(['_setAccount', 'UA-42895529-7']);</script>", "after cl.isp_ru_ertelecom_rkn_blockpage"),
        ("ru_mgts", "mgts", "utf-8", "<title>МГТС — доступ ограничен</title>",
         '<h1>Доступ к ресурсу ограничен</h1><p><a id="toggle" href="">Узнать причину <img src="/img/down_mobile.png"></a></p><div id="reason" hidden>{url}: решение Генпрокуратуры</div>', "after cl.isp_ru_mgts_rkn_blockpage_1"),
        ("ru_mgts", "mgts", "utf-8", "<title>МГТС</title>",
         "<h1>Доступ ограничен</h1><p>{url}</p><script>ga('create','UA-12816426-25','block.mgts.ru');</script>", "after cl.isp_ru_mgts_rkn_blockpage_2"),
        ("ru_yota", "yota", "utf-8", "<title>Yota</title>",
         '<h1 class="title title_h1">Доступ ограничен</h1><p class="text">Ресурс {url} заблокирован на основании законодательства РФ.</p>', "after cl.isp_ru_yota_block_1"),
        ("ru_yota", "yota", "utf-8", "<title>Yota — доступ ограничен</title>",
         '<h1 class="title  title_h1">Доступ ограничен</h1><p>{url}</p><script>ga("create","UA-16019436-1");</script>', "after ooni.ru_66 (GA id); class attribute respaced"),
        ("ru_akado", "akado", "windows-1251", "<title>АКАДО — доступ ограничен</title>",
         '<p>Доступ к {url} ограничен.</p><a href="https://www.akado.ru/services/itv/?utm_source=blocked-RKN">Смотрите АКАДО ТВ</a><script>_gaq.push([\'_setAccount\',\'UA-2468561-43\']);</script>', "after ooni.ru_44 and cl.isp_ru_akado_block_1"),
        ("ru_akado", "akado", "utf-8", "<title>АКАДО-Урал</title>",
         '<link rel="stylesheet" href="http://www.akado-ural.ru/web/rkn/site_blocked.css"><p>Ресурс {url} заблокирован.</p>', "after ooni.ru_45"),
        ("ru_tinkoff", "tinkoff", "utf-8", "<title>Тинькофф Мобайл | Страница заблокирована Роскомнадзором</title>",
         "<h1>Страница заблокирована</h1><p>{url} в реестре Роскомнадзора.</p>", "after cl.isp_ru_tinkoff_block (title)"),
        ("ru_tinkoff", "tinkoff", "utf-8", "<title>Т-Мобайл | Страница заблокирована Роскомнадзором</title>",
         "<h1>Страница заблокирована</h1><p>{url} в реестре Роскомнадзора.</p>", "after cl.isp_ru_tinkoff_block; reworded: the 2024 rebranding (Тинькофф -> Т-Мобайл) changed the title the row matches"),
        ("ru_ufanet", "ufanet", "windows-1251", "<title>Уфанет</title>",
         '<h2>Доступ запрещён</h2><p>{url}</p><script>(function (d, w, c) {{ (w[c] = w[c] || []).push(function() {{ w.yaCounter41226669 = new Ya.Metrika({{id:41226669, clickmap:true}}); }}); }})(document, window, "yandex_metrika_callbacks");</script>', "after cl.isp_ru_ufanet_block"),
        ("ru_planeta", "planeta", "utf-8", "<title>Планета — доступ закрыт</title>",
         '<h1 class="HeaderTitle">Доступ к данному ресурсу закрыт</h1><p>{url} включён в реестр.</p>', "after cl.isp_ru_planeta_block"),
        ("ru_ugmk", "ugmk", "windows-1251", "<title>УГМК-Телеком</title>",
         "<h1>ДОСТУП К РЕСУРСУ ЗАБЛОКИРОВАН!</h1><p>{url}</p>", "after cl.isp_ru_ugmktelecom_block"),
        ("ru_ugmk", "ugmk", "koi8-r", "<title>УГМК-Телеком</title>",
         "<h1>Доступ к ресурсу заблокирован!</h1><p>{url}</p>", "after cl.isp_ru_ugmktelecom_block; reworded: the heading no longer upper case"),
    ]
    counts = {}
    for j, (vendor, stem, enc, title, body, note) in enumerate(rows):
        counts[vendor] = counts.get(vendor, 0) + 1
        url = RU_URLS[j % len(RU_URLS)]
        html = f"<!DOCTYPE html>\n<html lang=\"ru\">\n<head>\n{meta(enc)}\n{title}\n</head>\n<body>\n{body.format(url=url)}\n</body>\n</html>\n"
        add(f"blockpages/ru/{stem}_{counts[vendor]}.html", "blockpage", vendor, "RU", "ru", enc, note, html, url,
            200, [("Server", "nginx")], j % 3 != 0)


ID_URLS = ["http://www.reddit.com/", "http://vimeo.com/", "http://www.pornhub.com/", "http://www.tumblr.com/",
           "http://www.imgur.com/", "http://archive.org/"]


def id_pages():
    # Trust+ / Internet Positif (national), Telkomsel, Indosat, XL, Biznet, MyRepublic, First Media
    tp = """<html><head>{meta}<title>Internet Positif</title>
<link href="http://internetpositif.uzone.id/assets/internetpositif/css/style.css" rel="stylesheet"></head>
<body><div class="container"><img src="http://internetpositif.uzone.id/assets/internetpositif/img/logo.png">
<h3>Situs yang Anda kunjungi tidak bisa diakses melalui jaringan ini sesuai peraturan perundang-undangan.</h3>
<p>This page is blocked by <a href=http://trustpositif.kominfo.go.id>TrustPositif</a> Kementerian Komunikasi dan Informatika.</p>
<p>Pengaduan: aduankonten@kominfo.go.id</p></div></body></html>
"""
    add("blockpages/id/trustpositif_1.html", "blockpage", "id_trustpositif", "ID", "id", "utf-8",
        "after ooni.id_4/ooni.id_6/ooni.id_7 (Internet Positif template)", tp.format(meta=meta("utf-8")), ID_URLS[0])
    add("blockpages/id/trustpositif_2.html", "blockpage", "id_trustpositif", "ID", "id", "iso-8859-1",
        "after ooni.id_4/ooni.id_6; latin-1 declared", tp.format(meta=meta("iso-8859-1")), ID_URLS[1], 200, [], False)
    fwd = """<html><head><title>Internet Positif</title>
<script>window.location.replace("http://internetpositif.uzone.id/page?url={url}");</script></head><body></body></html>
"""
    add("blockpages/id/trustpositif_3.html", "blockpage", "id_trustpositif", "ID", "", "utf-8",
        "after cl.nat_id_trustpositif_forward_2 / ooni.id_positif_0 (script forward, no text)", fwd.format(url=ID_URLS[2]), ID_URLS[2])
    new = """<!DOCTYPE html><html lang="id"><head><meta charset="utf-8"><title>Internet Baik - Kominfo</title></head>
<body><main><h1>Akses Diblokir</h1>
<p>Situs {url} termasuk dalam daftar TrustPositif Kementerian Komunikasi dan Digital dan tidak dapat diakses melalui jaringan ini.</p>
<p>Jika Anda merasa situs ini tidak bermuatan negatif, ajukan normalisasi melalui <a href="https://trustpositif.komdigi.go.id/">trustpositif.komdigi.go.id</a> atau email aduankonten@komdigi.go.id.</p>
</main></body></html>
"""
    add("blockpages/id/trustpositif_4.html", "blockpage", "id_trustpositif", "ID", "id", "utf-8",
        "reworded: after the 2024 renaming of Kominfo to Komdigi the page links trustpositif.komdigi.go.id (no kominfo domain left)",
        new.format(url=ID_URLS[3]), ID_URLS[3])
    add("blockpages/id/trustpositif_5.html", "blockpage", "id_trustpositif", "ID", "id", "utf-8",
        "after cl.nat_id_trustpositif_block_6 (<title>Mercusuar</title>)",
        f"<html><head><title>Mercusuar</title></head><body><p>Situs {ID_URLS[4]} diblokir sesuai peraturan perundang-undangan.</p><p>Kontak: aduankonten@kominfo.go.id</p></body></html>\n", ID_URLS[4])
    tsel = """<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="description" content="Telkomsel Internet Baik">
<title>Internet Baik</title></head><body>
<img src="https://internetbaik.telkomsel.com/assets/img/logo.png">
<h2>Maaf, situs yang Anda tuju tidak dapat diakses.</h2>
<p>{url} termasuk konten negatif sesuai Permenkominfo No. 5 Tahun 2020.</p>
<a href="https://internetbaik.telkomsel.com/">internetbaik.telkomsel.com</a></body></html>
"""
    for i, u in enumerate(ID_URLS[:3], 1):
        add(f"blockpages/id/telkomsel_{i}.html", "blockpage", "id_telkomsel", "ID", "id", "utf-8",
            "after ooni.id_24/ooni.id_25 (internetbaik.telkomsel.com, meta description)", tsel.format(url=u), u,
            200, [("Server", "Apache")])
    indo = """<html><head>{meta}<title>Indosatooredoo Netsafe</title></head>
<body><center><img src="http://netsafe.indosatooredoo.com/img/netsafe.png">
<p>Situs {url} mengandung muatan negatif sesuai dengan Peraturan Menteri Kominfo No 19 Tahun 2014.</p>
<p><b>Access Restricted by</b> Indosat Ooredoo</p></center></body></html>
"""
    for i, u in enumerate(ID_URLS[1:4], 1):
        enc = ["utf-8", "iso-8859-1", "windows-1252"][i - 1]
        add(f"blockpages/id/indosat_{i}.html", "blockpage", "id_indosat", "ID", "id", enc,
            "after ooni.id_19/ooni.id_21/ooni.id_indosat_0", indo.format(meta=meta(enc), url=u), u, 200, [], i == 1)
    xl = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>XL Axiata - Blocked</title></head>
<body><div class="box"><img src="https://blockpage.xlaxiata.id/img/xl.png">
<h1>Situs Diblokir</h1><p>The site {url} you are trying to access contains negative content</p>
<p>which is not permitted by goverment regulation.</p>
<a href="https://blockpage.xlaxiata.id/">blockpage.xlaxiata.id</a></div></body></html>
"""
    for i, u in enumerate(ID_URLS[2:5], 1):
        add(f"blockpages/id/xl_{i}.html", "blockpage", "id_xl", "ID", "id", "utf-8",
            "after ooni.id_xl_0/ooni.id_xl_3", xl.format(url=u), u)
    add("blockpages/id/biznet_1.html", "blockpage", "id_biznet", "ID", "id", "utf-8", "after ooni.id_28",
        f"<html><head><title>Biznet SafeSurf</title></head><body><h2>Biznet SafeSurf</h2><p>Akses ke {ID_URLS[0]} diblokir.</p><a href=\"http://www.biznetnetworks.com/safesurf/\">Info</a></body></html>\n", ID_URLS[0])
    add("blockpages/id/biznet_2.html", "blockpage", "id_biznet", "ID", "en", "utf-8", "after ooni.id_28, English variant",
        f"<html><head><title>Biznet SafeSurf</title></head><body><h2>Site blocked</h2><p>Access to {ID_URLS[5]} is blocked under Indonesian regulation.</p><a href=\"http://www.biznetnetworks.com/safesurf/\">More</a></body></html>\n", ID_URLS[5])
    add("blockpages/id/myrepublic_1.html", "blockpage", "id_myrepublic", "ID", "id", "utf-8", "after ooni.id_23",
        f"<html><head><title>MyRepublic Internet Sehat</title></head><body><p>Situs {ID_URLS[1]} diblokir.</p><a href=\"https://myrepublic.co.id/internet-sehat/\">Internet Sehat</a></body></html>\n", ID_URLS[1])
    add("blockpages/id/firstmedia_1.html", "blockpage", "id_firstmedia", "ID", "id", "utf-8", "after ooni.id_first_0/ooni.id_12",
        f"<html><head><title>FastNet | Internet Sehat dan Aman</title><script>var pname='internet-sehat';</script></head><body><p>{ID_URLS[2]} diblokir.</p></body></html>\n", ID_URLS[2])


def ir_pages():
    urls = ["http://www.bbc.com/persian", "http://www.facebook.com/", "http://twitter.com/", "http://www.radiofarda.com/",
            "http://www.youtube.com/"]
    ifr = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1256"><title>M1-2</title></head><body><iframe src="http://10.10.34.34?type=Invalid Site&policy=MainPolicy " style="width: 100%; height: 100%" scrolling="no" marginwidth="0" marginheight="0" frameborder="0" vspace="0" hspace="0"></iframe></body></html>\r\n\r\n'
    add("blockpages/ir/iframe_1.html", "blockpage", "ir_peyvandha", "IR", "", "windows-1256",
        "after ooni.ir_0 / cl.nat_ir_iframe_forward_ipv4 (the 10.10.34.34 iframe, byte layout as in OONI measurements)",
        ifr, urls[0], 403, [("Connection", "close")], False)
    ifr2 = ifr.replace("10.10.34.34", "10.10.34.35")
    add("blockpages/ir/iframe_2.html", "blockpage", "ir_peyvandha", "IR", "", "windows-1256",
        "after ooni.ir_0 (10.10.34.35 variant)", ifr2, urls[1], 403, [("Connection", "close")], False)
    ifr6 = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1256"><title>M1-6</title></head><body><iframe src="http://[d0:0:0:0:0:0:0:11:80]" style="width: 100%; height: 100%" scrolling="no" marginwidth="0" marginheight="0" frameborder="0" vspace="0" hspace="0"></iframe></body></html>\r\n\r\n'
    add("blockpages/ir/iframe_v6_1.html", "blockpage", "ir_peyvandha", "IR", "", "windows-1256",
        "after ooni.ir_1 (IPv6 iframe variant)", ifr6, urls[2], 403, [("Connection", "close")], False)
    pey = """<html dir="rtl"><head>{meta}<title>peyvandha.ir</title></head>
<body style="font-family:Tahoma">
<p align="center">دسترسی به این تارنما امکان پذیر نمی باشد</p>
<p align="center">بر اساس قوانین جمهوری اسلامی ایران دسترسی به این سایت ممنوع است.</p>
<p align="center"><a href="http://peyvandha.ir/1-2.htm">peyvandha.ir</a> | <a href="http://www.internet.ir/1-2">internet.ir</a></p>
</body></html>
"""
    add("blockpages/ir/peyvandha_1.html", "blockpage", "ir_peyvandha", "IR", "fa", "windows-1256",
        "after ooni.ir_2/ooni.ir_3 (destination page of the iframe)", pey.format(meta=meta("windows-1256")), urls[3], 200, [], False)
    add("blockpages/ir/peyvandha_2.html", "blockpage", "ir_peyvandha", "IR", "fa", "utf-8",
        "after ooni.ir_3, UTF-8", pey.format(meta=meta("utf-8")), urls[4])


def kr_pages():
    urls = ["http://www.pornhub.com/", "http://thepiratebay.org/", "http://www.uriminzokkiri.com/",
            "http://www.xvideos.com/", "http://www.bet365.com/"]
    tmpl = """<html><head>{meta}<title>warning</title></head>
<body><iframe src="http://warning.or.kr/i1.html" width="100%" height="100%" frameborder="0"></iframe></body></html>
"""
    add("blockpages/kr/warning_1.html", "blockpage", "kr_warning", "KR", "", "euc-kr",
        "after ooni.kr_1 / cp.b_nat_kr_comm (frame to warning.or.kr)", tmpl.format(meta=meta("euc-kr")), urls[0], 200, [], False)
    full = """<html><head>{meta}<title>불법·유해 정보(사이트)에 대한 차단 안내</title></head>
<body>
<div id="wrap"><h1>불법·유해 정보(사이트)에 대한 차단 안내</h1>
<p>귀하가 접속하려고 하는 정보(사이트)에서 불법·유해 내용을 제공하고 있어 해당 정보(사이트)에 대한 접속이 차단되었음을 알려드립니다.</p>
<p>방송통신심의위원회 <a href="http://www.kocsc.or.kr">www.kocsc.or.kr</a> | <a href="http://warning.or.kr/i2.html">warning.or.kr</a></p>
</div></body></html>
"""
    add("blockpages/kr/warning_2.html", "blockpage", "kr_warning", "KR", "ko", "euc-kr",
        "after ooni.kr_1 (warning.or.kr page itself, KOCSC wording)", full.format(meta=meta("euc-kr")), urls[1], 200, [], False)
    add("blockpages/kr/warning_3.html", "blockpage", "kr_warning", "KR", "ko", "utf-8",
        "after ooni.kr_1, UTF-8", full.format(meta=meta("utf-8")), urls[2])
    sni = """<html><head>{meta}<title>불법·유해 정보 차단 안내</title></head>
<body><p>접속하려는 사이트 {url} 는 방송통신심의위원회의 심의에 따라 접속이 차단되었습니다.</p>
<img src="http://warning.or.kr/img/warning.jpg"></body></html>
"""
    add("blockpages/kr/warning_4.html", "blockpage", "kr_warning", "KR", "ko", "euc-kr",
        "after cp.b_nat_kr_comm; image-only link variant", sni.format(meta=meta("euc-kr"), url=urls[3]), urls[3], 200, [], True)
    skt = """<html><head>{meta}<title>청소년 유해차단서비스</title></head>
<frameset rows="100%,*"><frame src="http://cleanmobile01.nate.com/sub_block.html?url={url}"></frameset></html>
"""
    add("blockpages/kr/skt_1.html", "blockpage", "kr_skt", "KR", "ko", "euc-kr",
        "after ooni.kr_3/ooni.kr_5/cp.c_isp_ko_skt", skt.format(meta=meta("euc-kr"), url=urls[4]), urls[4], 200, [], False)
    add("blockpages/kr/skt_2.html", "blockpage", "kr_skt", "KR", "ko", "utf-8",
        "after ooni.kr_4/ooni.kr_5", skt.format(meta=meta("utf-8"), url=urls[0]).replace("cleanmobile01", "cleanmobile02"), urls[0])


def tr_pages():
    urls = ["http://www.wikipedia.org/", "http://www.pornhub.com/", "http://www.sendika.org/", "http://www.bianet.org/",
            "http://www.ekşisözlük.com/"]
    btk = """<html><head>{meta}<title>Telekomünikasyon İletişim Başkanlığı</title></head>
<body><table align="center"><tr><td class="yazi3_1">Bu web sitesi ({url}) hakkında Bilgi ve İletişim Teknolojileri Kurumu tarafından uygulanan 5651 sayılı kanun kapsamında idari tedbir uygulanmaktadır.</td></tr>
<tr><td class="yazi3_1">After technical analysis and legal consideration based on the law nr. 5651, administration measure has been taken for this website ({url}) according to decision nr. 490.05.01.2008.-{n} dated 09/11/2023 of Telecommunications Communication Presidency.</td></tr></table></body></html>
"""
    for i, (enc, hdr) in enumerate([("iso-8859-9", True), ("windows-1254", False), ("utf-8", True)], 1):
        add(f"blockpages/tr/btk_{i}.html", "blockpage", "tr_btk", "TR", "tr", enc,
            "after ooni.tr_0/ooni.tr_2 (BTK/TİB notice)", btk.format(meta=meta(enc), url=urls[i - 1], n=40213 + i),
            urls[i - 1], 200, [], hdr)
    newbtk = """<!DOCTYPE html><html lang="tr"><head><meta charset="utf-8"><title>Bilgi Teknolojileri ve İletişim Kurumu</title></head>
<body><div class="msg"><p>Bu internet sitesi ({url}) hakkında, 5651 sayılı kanun kapsamında Sulh Ceza Hâkimliği kararı ile erişimin engellenmesi tedbiri uygulanmaktadır.</p>
<p>Access to this website ({url}) has been blocked by a decision of the Criminal Judgeship of Peace under law nr. 5651.</p></div></body></html>
"""
    add("blockpages/tr/btk_4.html", "blockpage", "tr_btk", "TR", "tr", "utf-8",
        "reworded: BTK's newer court-order notice (the TİB title and 'administration measure' sentence are gone)", newbtk.format(url=urls[3]), urls[3])
    tt = """<html><head>{meta}<title>Güvenli İnternet Uyarı</title></head><body><p>Güvenli İnternet hizmeti profiliniz nedeniyle {url} adresine erişim engellenmiştir.</p></body></html>
"""
    add("blockpages/tr/ttnet_1.html", "blockpage", "tr_ttnet", "TR", "tr", "windows-1254", "after ooni.tr_5 (opt-in filter)",
        tt.format(meta=meta("windows-1254"), url=urls[1]), urls[1], 200, [], False)
    add("blockpages/tr/ttnet_2.html", "blockpage", "tr_ttnet", "TR", "tr", "utf-8", "after ooni.tr_5",
        tt.format(meta=meta("utf-8"), url=urls[4]), urls[4])


def th_pages():
    urls = ["http://www.pornhub.com/", "http://www.thaienews.blogspot.com/", "http://www.fes-thailand.org/",
            "http://www.siamintelligence.com/"]
    mdes = """<html><head>{meta}<title>Tcsd.info</title></head><body><center><img src="mdes.jpg">
<h1>เว็บไซต์นี้มีเนื้อหาและข้อมูลที่ไม่เหมาะสม<BR>ถูกระงับโดยกระทรวงดิจิทัลเพื่อเศรษฐกิจและสังคม</h1>
<p>Sorry. Access to this website has been disabled because the Ministry of Digital Economy and Society (MDES) has received a court order.</p></center></body></html>
"""
    for i, (enc, hdr) in enumerate([("tis-620", False), ("windows-874", True), ("utf-8", True)], 1):
        add(f"blockpages/th/mdes_{i}.html", "blockpage", "th_mdes", "TH", "th", enc,
            "after ooni.th_ministry_0/ooni.th_0/ooni.th_mdes", mdes.format(meta=meta(enc)), urls[i - 1], 200, [], hdr)
    ict = """<html><head>{meta}<title>ICT</title></head><body><center> <img src="ict.jpg"> </center>
<p>เว็บไซต์ที่ท่านต้องการเข้าชมได้ถูกระงับการเผยแพร่ตามคำสั่งจากกระทรวงเทคโนโลยีสารสนเทศและการสื่อสาร</p></body></html>
"""
    add("blockpages/th/ict_1.html", "blockpage", "th_mdes", "TH", "th", "tis-620", "after ooni.th_ministry_3/ooni.th_ministry_5 (older ICT page)",
        ict.format(meta=meta("tis-620")), urls[3], 200, [], False)
    dtac = f'<html><head><title>dtac</title></head><body><iframe src="http://124.40.225.20/?accessurl={urls[0]}" width="100%" height="100%"></iframe></body></html>\n'
    add("blockpages/th/dtac_1.html", "blockpage", "th_dtac", "TH", "", "utf-8", "after ooni.th_6 (iframe accessurl)", dtac, urls[0])


def gulf_pages():
    # SA national (windows-1256), AE Etisalat / du, QA, OM, KW, BH
    sa = """<html dir="rtl"><head>{meta}<title> Blocked URL العنوان محجوب</title></head>
<body><table width="600" align="center"><tr><td>
<p>عفواً، الموقع المطلوب غير متاح.</p>
<p>Sorry, the requested page is unavailable.</p>
<p>If you believe the requested page should not be blocked please <a href="http://www.internet.gov.sa/resources/block-unblock-request">click here</a>. http://www.internet.gov.sa</p>
<p>لمزيد من المعلومات عن خدمة الإنترنت في المملكة العربية السعودية، يمكنك زيارة الموقع التالي: www.internet.gov.sa</p>
</td></tr></table></body></html>
"""
    urls = ["http://www.hrw.org/", "http://www.amnesty.org/", "http://www.aljazeera.net/", "http://www.grindr.com/"]
    for i, (enc, hdr) in enumerate([("windows-1256", False), ("utf-8", True), ("windows-1256", True)], 1):
        add(f"blockpages/sa/national_{i}.html", "blockpage", "sa_citc", "SA", "ar", enc,
            "after cp.b_nat_sa_national/cp.b_nat_sa_national_2/cl.nat_sa", sa.format(meta=meta(enc)), urls[i - 1], 200, [], hdr)
    sa2 = """<html dir="rtl"><head>{meta}<title>الموقع محجوب</title></head><body>
<p>Sorry, the requested page is violating the regulations of the Kingdom of Saudi Arabia.</p>
<p>عذراً، الصفحة المطلوبة تخالف أنظمة المملكة العربية السعودية.</p></body></html>
"""
    add("blockpages/sa/national_4.html", "blockpage", "sa_citc", "SA", "ar", "iso-8859-6",
        "after cp.b_nat_sa_violating_regulations; ISO-8859-6", sa2.format(meta=meta("iso-8859-6")), urls[3], 200, [], False)
    et = """<html><head>{meta}<title>Etisalat - Blocked</title></head><body>
<img src="http://proxy.etisalat.ae/images/etisalat_logo.gif">
<p>عذراً، الموقع الذي تحاول الوصول إليه غير متاح حيث أنه يحتوي على مواد محظورة وفق تعليمات الهيئة العامة لتنظيم قطاع الاتصالات.</p>
<p>We apologize, the site you are attempting to visit has been blocked due to its content being inconsistent with the regulatory guidelines of the TRA.</p>
</body></html>
"""
    add("blockpages/ae/etisalat_1.html", "blockpage", "ae_etisalat", "AE", "ar", "utf-8", "after cp.c_isp_ae_etislat_body",
        et.format(meta=meta("utf-8")), urls[3])
    add("blockpages/ae/etisalat_2.html", "blockpage", "ae_etisalat", "AE", "ar", "windows-1256", "after cp.c_isp_ae_etislat_body",
        et.format(meta=meta("windows-1256")), "http://www.skype.com/", 200, [], False)
    du = """<html><head><title>du - Access Denied</title></head><body><p>This website is not accessible in the UAE.</p>
<p>هذا الموقع غير متاح في دولة الإمارات العربية المتحدة.</p></body></html>
"""
    add("blockpages/ae/du_1.html", "blockpage", "ae_du", "AE", "ar", "utf-8",
        "header-only: after ooni.ae_0 (Server: Protected by WireFilter); the body names no vendor",
        du, "http://www.voip.com/", 403, [("Server", "Protected by WireFilter 8000 (dubai.du.ae)")])
    add("blockpages/ae/du_2.html", "blockpage", "ae_du", "AE", "", "utf-8",
        "header-only: after ooni.ae_2 (Location: http://lighthouse.du.ae...), a 302 with an empty body",
        "", "http://www.bbc.com/arabic", 302,
        [("Location", "http://lighthouse.du.ae/index.php?url=http://www.bbc.com/arabic"), ("Content-Length", "0")])
    qa = """<html><head><title>Ooredoo</title></head><body><iframe src="http://censor.qa/?accessurl={url}&amp;lang=en" width="100%" height="100%"></iframe></body></html>
"""
    add("blockpages/qa/censor_1.html", "blockpage", "qa_ooredoo", "QA", "", "utf-8", "after ooni.qa_1", qa.format(url=urls[0]), urls[0])
    add("blockpages/qa/censor_2.html", "blockpage", "qa_ooredoo", "QA", "", "utf-8", "after ooni.qa_2 (dpid variant)",
        f'<html><head><title>Blocked</title></head><body><iframe src="http://censor.qa/?dpid=2&amp;dpruleid=3&amp;cat=10&amp;url={urls[3]}"></iframe></body></html>\n', urls[3])
    om = """<html><head><title>Omantel</title></head><body><iframe src="http://siteblocked.om/?accessurl={url}" width="100%" height="100%" frameborder="0"></iframe></body></html>
"""
    add("blockpages/om/siteblocked_1.html", "blockpage", "om_national", "OM", "", "utf-8", "after ooni.om_1", om.format(url=urls[1]), urls[1])
    add("blockpages/om/siteblocked_2.html", "blockpage", "om_national", "OM", "", "utf-8", "after ooni.om_0",
        f'<html><body><a href="http://block.om/newrequestform.aspx?accessurl={urls[2]}">Request unblocking</a></body></html>\n', urls[2])
    add("blockpages/bh/batelco_1.html", "blockpage", "bh_batelco", "BH", "en", "utf-8", "after ooni.bh_0/cp.b_nat_bh_national_body",
        f'<html><head><title>Site Blocked</title></head><body><p>This site {urls[0]} has been blocked.</p><a href="http://www.anonymous.com.bh/">www.anonymous.com.bh</a></body></html>\n', urls[0])
    add("blockpages/bh/batelco_2.html", "blockpage", "bh_batelco", "BH", "ar", "windows-1256", "after ooni.bh_0, Arabic",
        f'<html dir="rtl"><head>{meta("windows-1256")}<title>موقع محجوب</title></head><body><p>تم حجب هذا الموقع.</p><a href="http://www.anonymous.com.bh/">www.anonymous.com.bh</a></body></html>\n', urls[2], 200, [], False)


def netsweeper():
    # cl.prod_netsweeper_inject_2 (/webadmin/deny/), ooni.kw_1, cp.c_isp_kw_zain, ooni.sd_3, ooni.in_4
    deploys = [
        ("KW", "http://restrict.kw.zain.com:8080/webadmin/deny/index.php?dpid=5&dpruleid=3&cat=6&ttl=0&groupname=Zain&policyname=default&username=&userip=&connectionip=1.0.0.127&nsphostname=restrict.kw.zain.com&protocol=nsef&dplanguage=-&url={url}", "iframe"),
        ("KW", "http://blocked.fasttelco.net/?dpid=1&dpruleid=1&cat=14&url={url}", "iframe"),
        ("SD", "http://196.1.211.6:8080/webadmin/deny/ptra/blocking.html?url={url}", "refresh"),
        ("IN", "http://www.airtel.in/dot/?dpid=1&dpruleid=1&cat=108&ttl=0&groupname=Airtel&policyname=dot&url={url}", "iframe"),
        ("YE", "http://82.114.160.94/webadmin/deny/index.php?dpid=53&dpruleid=53&cat=251&ttl=-200&groupname=YemenNet&policyname=yemennet&username=&url={url}", "refresh"),
        ("PK", "http://restrict.wateen.net/webadmin/deny/index.php?dpid=2&dpruleid=7&cat=224&url={url}", "iframe"),
    ]
    urls = ["http://www.grindr.com/", "http://www.hrw.org/", "http://www.pornhub.com/", "http://www.rfa.org/",
            "http://www.aljazeera.net/", "http://www.balochwarna.com/"]
    for i, ((cc, target, kind), url) in enumerate(zip(deploys, urls), 1):
        t = target.format(url=url).replace("&", "&amp;")
        if kind == "iframe":
            html = f'<html><head><title>Web Page Blocked</title></head><body style="margin:0"><iframe src="{t}" style="width:100%;height:100%" frameborder="0"></iframe></body></html>\n'
        else:
            html = f'<html><head><meta http-equiv="refresh" content="0; url={t}"></head><body></body></html>\n'
        add(f"blockpages/products/netsweeper_{i}.html", "blockpage", "netsweeper", cc, "", "utf-8",
            f"after cl.prod_netsweeper_inject_2/_3 and the {cc} deployment rows", html, url, 200, [("Server", "Netsweeper")] if i == 6 else [])
    deny = """<html><head>{meta}<title>Web Page Blocked</title></head>
<body><div id="content"><h1>{head}</h1><p>{text}</p>
<p>URL: {url}<br>Category: Pornography</p>
<p class="footer"><a href="http://www.poweredbynetsweeper.com/">Powered by Netsweeper</a></p></div></body></html>
"""
    add("blockpages/products/netsweeper_7.html", "blockpage", "netsweeper", "YE", "ar", "windows-1256",
        "after cl.prod_netsweeper_blockpage (the deny page itself, Arabic)",
        deny.format(meta=meta("windows-1256"), head="الصفحة محجوبة", text="عذراً، تم حجب هذه الصفحة.", url=urls[4]), urls[4], 200, [], False)
    add("blockpages/products/netsweeper_8.html", "blockpage", "netsweeper", "CA", "en", "utf-8",
        "after cl.prod_netsweeper_blockpage (the deny page itself, English)",
        deny.format(meta=meta("utf-8"), head="Web Page Blocked", text="The page you have requested has been blocked by your network administrator.", url=urls[0]), urls[0])


FG_TEXT = {
    "en": ("Web Page Blocked!", "You have tried to access a web page which is in violation of your internet usage policy.", "URL", "Category"),
    "de": ("Webseite blockiert!", "Sie haben versucht, auf eine Webseite zuzugreifen, die gegen Ihre Richtlinien zur Internetnutzung verstößt.", "URL", "Kategorie"),
    "ja": ("Webページがブロックされました", "アクセスしようとしたWebページはインターネット利用ポリシーに違反しています。", "URL", "カテゴリ"),
    "zh-TW": ("網頁已封鎖！", "您嘗試存取的網頁違反了您的網際網路使用原則。", "網址", "類別"),
    "zh-CN": ("网页已阻止！", "您尝试访问的网页违反了您的互联网使用策略。", "网址", "类别"),
    "ko": ("웹 페이지 차단됨!", "인터넷 사용 정책을 위반하는 웹 페이지에 접근하려고 했습니다.", "URL", "범주"),
    "ru": ("Веб-страница заблокирована!", "Вы пытаетесь открыть веб-страницу, нарушающую вашу политику использования Интернета.", "URL", "Категория"),
    "fr": ("Page Web bloquée !", "Vous avez tenté d'accéder à une page Web qui enfreint votre politique d'utilisation d'Internet.", "URL", "Catégorie"),
}


def fortiguard():
    items = [("en", "utf-8", "US", True), ("de", "iso-8859-1", "DE", True), ("ja", "shift_jis", "JP", False),
             ("zh-TW", "big5", "TW", False), ("zh-CN", "gb2312", "CN", True), ("ko", "euc-kr", "KR", False),
             ("ru", "windows-1251", "KZ", True), ("fr", "utf-8", "FR", True)]
    urls = ["http://www.pornhub.com/", "http://www.bet365.com/", "http://www.2ch.net/", "http://www.dcard.tw/",
            "http://www.torproject.org/", "http://www.xvideos.com/", "http://www.rferl.org/", "http://www.torrent9.fm/"]
    for i, ((lang, enc, cc, hdr), url) in enumerate(zip(items, urls), 1):
        h, t, u, c = FG_TEXT[lang]
        powered = "Powered By FortiGuard" if i != 8 else "Powered by FortiGuard&reg;"
        html = f"""<!DOCTYPE html>
<html><head>{meta(enc)}<title>{h}</title>
<style>body{{background:#e7e8e9;font-family:Verdana}} .notice{{background:#fff;width:700px;margin:50px auto}}</style></head>
<body><div class="notice"><h3>{h}</h3>
<div class="notice"><p>{t}</p>
<p>{u}: {url}<br>{c}: Pornography</p>
<p>To have the rating of this web page re-evaluated <a href="http://www.fortiguard.com/webfilter?url={url}">please click here</a>.</p>
</div><p class="footer">{powered}</p></div></body></html>
"""
        note = "after cl.prod_fortiguard_webfilter_blocktext/_poweredby and ooni.th_13 (FortiGate replacement message)"
        if lang != "en":
            note += f"; localized replacement message ({lang}) as FortiOS ships it, English footer kept"
        if i == 8:
            note += "; reworded footer (case and &reg;)"
        add(f"blockpages/products/fortiguard_{i}.html", "blockpage", "fortiguard", cc, lang, enc, note, html, url, 200,
            [("Server", "xxxxxxxx-xxxxx")], hdr)
    ips = f"""<html><head><title>FortiGuard Intrusion Prevention - Access Blocked</title></head>
<body><h2>FortiGuard Intrusion Prevention - Access Blocked</h2><p>The page you have requested has been blocked because it contains a virus or attack signature.</p><br/>Attack ID: 20000051</body></html>
"""
    add("blockpages/products/fortiguard_9.html", "blockpage", "fortiguard", "PK", "en", "utf-8",
        "after cl.prod_fortiguard_ips_block / cp.a_prod_fortinet_3", ips, "http://www.psiphon.ca/", 403)


def paloalto():
    base = """<html><head>{meta}<title>{title}</title>
<style>#content{{border:3px solid#aaa;background-color:#fff;margin:40;padding:40;font-family:Tahoma,Helvetica,Arial,sans-serif;font-size:12px;}}</style></head>
<body bgcolor="#e7e8e9"><div id="content"><h1>{h1}</h1>
<p>{p}</p>
<p><b>User:</b> </p>
<p><b>URL:</b> {url} </p>
<p><b>Category:</b> {cat} </p>
</div></body></html>
"""
    rows = [
        ("en", "utf-8", "US", "Web Page Blocked", "Web Page Blocked", "Access to the web page you were trying to visit has been blocked in accordance with company policy. Please contact your system administrator if you believe this is in error.", "http://www.grindr.com/", "dating"),
        ("en", "utf-8", "TH", "Web Page Blocked", "Web Page Blocked", "Access to the web page you were trying to visit has been blocked in accordance with company policy. Please contact your system administrator if you believe this is in error.", "http://www.bet365.com/", "gambling"),
        ("ja", "shift_jis", "JP", "Webページがブロックされました", "Webページがブロックされました", "アクセスしようとしたWebページへのアクセスは、会社のポリシーに従ってブロックされています。 エラーと思われる場合はシステム管理者に連絡してください。", "http://www.nicovideo.jp/", "streaming-media"),
        ("en", "utf-8", "IN", "Web Page Blocked", "Web Page Blocked", "Access to the web page you were trying to visit has been blocked in accordance with\n  company policy.  Please contact your system administrator if you believe this is in error.", "http://www.torproject.org/", "proxy-avoidance-and-anonymizers"),
    ]
    for i, (lang, enc, cc, title, h1, p, url, cat) in enumerate(rows, 1):
        note = "after cl.prod_paloaltonetworks_block / cp.a_prod_paloalto_2 (PAN-OS default response page)"
        if i == 4:
            note += "; reworded: the sentence wrapped across lines with double spaces"
        if lang == "ja":
            note += "; Japanese response page (admins replace the text), Shift_JIS"
        add(f"blockpages/products/paloalto_{i}.html", "blockpage", "paloalto", cc, lang, enc, note,
            base.format(meta=meta(enc), title=title, h1=h1, p=p, url=url, cat=cat), url, 503 if i == 2 else 200, [], lang != "ja")


def products_misc():
    P = []
    P.append(("sonicwall", "US", "en", "utf-8", "after cp.a_prod_sonicwall_1/_2",
              """<html><head><title>SonicWALL - Web Site Blocked</title></head><body><h2>This site has been blocked by the network administrator.</h2>
<p>URL: {url}</p><p>Category: Adult/Mature Content</p>
<p>If you believe the above web site is rated incorrectly click <a href="http://cfssupport.sonicwall.com/Support/web/eng/newui/kbcontent/kbcontent.jsp?url={url}">here</a>.</p></body></html>
""", "http://www.pornhub.com/"))
    P.append(("sonicwall", "SA", "en", "utf-8", "after cl.prod_sonicwall_cfc",
              """<html><head><title>Web Site Blocked</title></head><body><p>Web Site Blocked: {url}</p><p>Reason: Forbidden Category "Dating"</p><a href="http://cfssupport.sonicwall.com/">cfssupport.sonicwall.com</a></body></html>
""", "http://www.grindr.com/"))
    P.append(("sonicwall", "DE", "de", "iso-8859-1", "after cp.a_prod_sonicwall_1, German",
              """<html><head>{meta}<title>SonicWALL - Web Site Blocked</title></head><body><h2>Diese Website wurde vom Netzwerkadministrator gesperrt.</h2><p>URL: {url}</p><p>Kategorie: Glücksspiel</p><a href="http://cfssupport.sonicwall.com/">Bewertung prüfen</a></body></html>
""", "http://www.bwin.de/"))
    P.append(("opendns", "US", "en", "utf-8", "after cl.prod_cisco_opendns_block_1/cp.a_prod_opendns_1_body",
              """<html><head><title>Site Blocked</title></head><body><h1>This site is blocked due to content filtering.</h1><p>{url}</p><p>Cisco Umbrella / <a href="https://block.opendns.com/?url={url}&amp;server=nyc7">OpenDNS</a></p></body></html>
""", "http://www.reddit.com/"))
    P.append(("opendns", "GB", "en", "utf-8", "after cl.prod_opendns_block_2",
              """<html><head><title>OpenDNS</title></head><body><h1>This domain is blocked due to content filtering.</h1><p>{url}</p><a href="https://block.opendns.com/">block.opendns.com</a></body></html>
""", "http://www.4chan.org/"))
    P.append(("opendns", "IN", "en", "utf-8", "after cl.prod_cisco_opendns_forward_2 (meta refresh forward)",
              """<html><head><meta http-equiv="refresh" content="0;url=https://block.opendns.com/?url={url}&amp;server=bom1"></head><body></body></html>
""", "http://www.bet365.com/"))
    P.append(("zscaler", "US", "en", "utf-8", "after cl.prod_zscaler_block",
              """<html><head><title>Website blocked</title></head><body><h1>Website blocked</h1><p>Not allowed to browse Gambling category</p><p>You tried to visit: {url}</p><p>Your organization has selected Zscaler to protect you from internet threats.</p><div class="footer">Internet Security by Zscaler</div></body></html>
""", "http://www.bet365.com/"))
    P.append(("zscaler", "IN", "en", "utf-8", "after cl.prod_zscaler_block",
              """<html><head><title>Zscaler</title></head><body><h2>Sorry, you don't have permission to visit this site.</h2><p>{url} is not allowed.</p><p>Internet Security by Zscaler</p></body></html>
""", "http://www.torproject.org/"))
    P.append(("kerio", "RU", "ru", "windows-1251", "after cp.a_prod_kerio_control (Russian)",
              """<html><head>{meta}<title>Доступ запрещён</title></head><body><h1>Доступ к странице запрещён</h1><p>{url}</p><p>Это сообщение создано прокси-сервером Kerio Control.</p></body></html>
""", "http://www.vk.com/"))
    P.append(("kerio", "CZ", "en", "utf-8", "after cl.prod_gfi_kerio",
              """<html><head><title>Access denied</title></head><body><h1>Access denied</h1><p>This page has been blocked by Kerio Control.</p><p>{url}</p></body></html>
""", "http://www.facebook.com/"))
    P.append(("watchguard", "US", "en", "utf-8", "after cp.a_prod_watchguard_1/_3",
              """<html><head><title>Response denied by WatchGuard HTTP Proxy</title></head><body><h1>Request denied by WatchGuard HTTP Proxy</h1><p>Reason: Category 'Social Networking' denied by WebBlocker policy</p><p>URL: {url}</p></body></html>
""", "http://www.facebook.com/"))
    P.append(("watchguard", "MX", "es", "iso-8859-1", "after cp.a_prod_watchguard_1, Spanish text with English heading",
              """<html><head>{meta}<title>Solicitud denegada</title></head><body><h1>Request denied by WatchGuard HTTP Proxy</h1><p>Razón: categoría 'Juegos de azar' denegada por la política WebBlocker.</p><p>URL: {url}</p></body></html>
""", "http://www.caliente.mx/"))
    P.append(("mcafee_wg", "US", "en", "utf-8", "after cp.a_prod_mcafee_1",
              """<html><head><title>McAfee Web Gateway - Notification - Blocked by URL filtering</title></head><body><h1>URL Blocked</h1><p>The URL {url} is blocked by your organization's policy.</p><p>URL Categories: Gambling</p><p>Generated 2026-01-12 10:02:44 by McAfee Web Gateway</p></body></html>
""", "http://www.bet365.com/"))
    P.append(("mcafee_wg", "DE", "de", "utf-8", "after cp.a_prod_mcafee_2",
              """<html><head><title>McAfee Web Gateway - Notification - Blocked by GTI Reputation</title></head><body><h1>Zugriff verweigert</h1><p>Die URL {url} hat eine schlechte Reputation.</p></body></html>
""", "http://www.example-malware.net/"))
    P.append(("meraki", "US", "en", "utf-8", "after cl.prod_ciscomeraki_filter_block",
              """<html><head><title>Blocked</title></head><body><h1>This website is blocked by your network operator.</h1><p>{url}</p><p>Cisco Meraki</p></body></html>
""", "http://www.twitch.tv/"))
    P.append(("meraki", "AU", "en", "utf-8", "after cl.prod_ciscomeraki_filter_block",
              """<html><head><title>Website blocked</title></head><body><div class="msg">This website is blocked by your network operator.</div><p>Category: Peer to peer</p></body></html>
""", "http://thepiratebay.org/"))
    P.append(("checkpoint", "IL", "en", "utf-8", "after cl.prod_checkpoint_urlfilter_blockpage",
              """<html><head><title>Check Point UserCheck</title></head><body><h1>Access to this site is blocked</h1><p>{url} is categorized as Anonymizer.</p><form action="/UserCheck/PortalMain"><input type="hidden" name="IID" value="{{6f3b}}"></form></body></html>
""", "http://www.psiphon.ca/"))
    P.append(("checkpoint", "RU", "ru", "utf-8", "after cl.prod_checkpoint_urlfilter_blockpage, Russian",
              """<html><head><meta charset="utf-8"><title>Check Point UserCheck</title></head><body><h1>Доступ к сайту заблокирован</h1><p>{url}: категория «Анонимайзеры».</p></body></html>
""", "http://www.torproject.org/"))
    P.append(("websense", "AE", "en", "utf-8", "after cl.prod_forcepoint_websense_blockpage (iframe to :15871)",
              """<html><head><title>Forcepoint</title></head><body><iframe src="http://10.1.1.5:15871/cgi-bin/blockpage.cgi?ws-session=3271652392" width="100%" height="100%"></iframe></body></html>
""", "http://www.skype.com/"))
    P.append(("websense", "US", "en", "utf-8", "after cl.prod_forcepoint_websense_blockpage_2",
              """<html><head><title>Content blocked by your organization</title></head><body><script>location.replace("http://192.0.2.8:15871/cgi-bin/block_message.cgi?ws-session=1893410");</script></body></html>
""", "http://www.bet365.com/"))
    P.append(("untangle", "US", "en", "utf-8", "after cl.prod_untangle_block",
              """<html><head><title>Untangle</title></head><body><p><b>This web page is blocked</b> because it violates network policy.</p><p>Host: {url}</p></body></html>
""", "http://www.4chan.org/"))
    P.append(("lightspeed", "US", "en", "utf-8", "after cl.prod_lightspeed_filter_blockpage",
              """<html><head><title>Lightspeed System - Web Access</title></head><body><h1>Web Access Blocked</h1><p>{url} is blocked by your school.</p></body></html>
""", "http://www.roblox.com/"))
    P.append(("iboss", "US", "en", "utf-8", "after cl.prod_iboss_iphantom_block",
              """<html><head><title>iboss</title></head><body><p>Access to the requested site has been restricted due to its contents.</p><p>{url}</p></body></html>
""", "http://www.discord.com/"))
    P.append(("bluecoat", "QA", "", None, "header-only: after ooni.ae_1 (Location: notify.bluecoat.com NotifyUser1), a 302 with an empty body",
              "", "http://www.grindr.com/"))
    P.append(("bluecoat", "AE", "", None, "header-only: after cl.prod_bluecoat_notify_notification, a 302 to notify.bluecoat.com",
              "", "http://www.skype.com/"))
    P.append(("netentsec", "CN", "zh-CN", "gb2312", "after cp.a_prod_netentsec (NetentSec/网康 enterprise filter), GB2312",
              """<html><head>{meta}<title>NetentSec Content Filter - Access Denied</title></head><body><h2>访问被拒绝</h2><p>您访问的网址 {url} 属于被禁止的类别（视频）。</p><p>如有疑问请联系网络管理员。</p></body></html>
""", "http://www.youtube.com/"))
    P.append(("netentsec", "CN", "zh-CN", "gbk", "after cp.a_prod_netentsec, GBK",
              """<html><head>{meta}<title>NetentSec Content Filter - Access Denied</title></head><body><h2>访问被拒绝</h2><p>网址 {url} 已被上网行为管理策略禁止。</p></body></html>
""", "http://www.twitter.com/"))
    P.append(("cyberoam", "UG", "en", "utf-8", "after ooni.ug_cyber_roam_0",
              """<html><head><title>Access Denied</title></head><body><h2>Access Denied</h2><p>{url} is not allowed as per your organization's policy.</p><p><a href="http://www.cyberoam.com">Cyberoam is securing you. Click here to know more.</a></p></body></html>
""", "http://www.facebook.com/"))
    P.append(("cyberoam", "IN", "en", "utf-8", "after ooni.ug_cyber_roam_0",
              """<html><head><title>Web Filter Violation</title></head><body><p>The page {url} is blocked.</p><p>Cyberoam is securing you. Click here to know more.</p></body></html>
""", "http://www.bet365.com/"))
    counts = {}
    for vendor, cc, lang, enc, note, tmpl, url in P:
        counts[vendor] = counts.get(vendor, 0) + 1
        name = f"blockpages/products/{vendor}_{counts[vendor]}.html"
        if enc is None:
            loc = ("http://www.bluecoat.com/notify-NotifyUser1?url=" + url) if counts[vendor] == 1 else ("http://notify.bluecoat.com/notify-Notify-Content?url=" + url)
            add(name, "blockpage", vendor, cc, lang, "utf-8", note, "", url, 302,
                [("Location", loc), ("Content-Length", "0"), ("Connection", "close")])
            continue
        add(name, "blockpage", vendor, cc, lang, enc, note, tmpl.format(meta=meta(enc), url=url), url, 200, [],
            enc == "utf-8")


def national_misc():
    P = [
        ("in_dot", "IN", "en", "utf-8", "after ooni.in_7",
         "<html><head><title>Blocked</title></head><body><span>The URL has been blocked as per the instructions of the DoT in compliance to the orders of Court of Law</span></body></html>\n",
         "http://www.tiktok.com/"),
        ("in_dot", "IN", "en", "utf-8", "after cp.c_isp_in_court_order (Jio/Vodafone wording)",
         "<html><head><title>Access Denied</title></head><body><h3>The access to this site is prohibited as per instructions from Authority(s)/Honorable Court Order</h3></body></html>\n",
         "http://www.1337x.to/"),
        ("in_dot", "IN", "hi", "utf-8", "after ooni.in_0 (BSNL); Hindi and English",
         "<html><head><meta charset=\"utf-8\"><title>Blocked</title></head><body><p>The page you have requested has been blocked, because the URL is banned as per the directions of the Department of Telecommunications.</p><p>यह वेबसाइट दूरसंचार विभाग के निर्देशानुसार अवरुद्ध है।</p></body></html>\n",
         "http://www.pubg.com/"),
        ("in_airtel", "IN", "en", "utf-8", "after ooni.in_airtel / cp.c_isp_in_airtel",
         "<html><head><title>Airtel</title></head><body><iframe src=\"http://www.airtel.in/dot/\" width=\"100%\" height=\"100%\"></iframe><a href=\"http://www.airtel.in/court-orders/\">Court orders</a></body></html>\n",
         "http://www.thepiratebay.org/"),
        ("pk_pta", "PK", "en", "utf-8", "after cp.b_nat_pak_isp_common_blockpage",
         "<html><head><title>Surf Safely!</title></head><body><h2>Surf Safely!</h2><p>The site you are trying to access contains content that is prohibited for viewership from within Pakistan.</p></body></html>\n",
         "http://www.balochwarna.com/"),
        ("pk_pta", "PK", "ur", "utf-8", "after cp.b_nat_pak_isp_common_blockpage, Urdu and English",
         "<html dir=\"rtl\"><head><meta charset=\"utf-8\"><title>Surf Safely!</title></head><body><p>جس ویب سائٹ تک آپ رسائی حاصل کرنا چاہتے ہیں وہ پاکستان میں دیکھنے کے لیے ممنوع ہے۔</p><p dir=\"ltr\">The site you are trying to access contains content that is prohibited for viewership from within Pakistan.</p></body></html>\n",
         "http://www.ahmadiyya.org/"),
        ("pk_pta", "PK", "en", "utf-8", "after ooni.pk_2 (Nayatel Safeweb opt-in)",
         "<html><head><title>Nayatel Safeweb</title></head><body><p>As per your subscription of Nayatel Safeweb service, the website you are trying to access is blocked for your viewing.</p></body></html>\n",
         "http://www.xvideos.com/"),
        ("my_mcmc", "MY", "ms", "utf-8", "after ooni.my_0 / cl.nat_my_violates",
         "<html><head><title>Makluman/Notification</title></head><body><h3>Makluman/Notification</h3><p>Laman web ini tidak boleh diakses kerana melanggar undang-undang Malaysia.</p><p>This website is not available in Malaysia as it violate(s) the National law(s).</p></body></html>\n",
         "http://www.sarawakreport.org/"),
        ("my_mcmc", "MY", "ms", "iso-8859-1", "after ooni.my_0, latin-1",
         "<html><head>{meta}<title>Makluman/Notification</title></head><body><p>This website is not available in Malaysia as it violate(s) the National law(s).</p><p>Hubungi: aduanskmm@mcmc.gov.my</p></body></html>\n",
         "http://www.bet365.com/"),
        ("sg_starhub", "SG", "en", "utf-8", "after cl.isp_sg_starhub_block_mda1",
         "<html><head><title>StarHub</title></head><body><p>The site requested is unavailable as it contains prohibited material that is against the public interest. Should you have further enquiries on the matter, please submit them to the e-feedback portal at the Singapore Police Force website.</p></body></html>\n",
         "http://www.ashleymadison.com/"),
        ("sg_starhub", "SG", "en", "utf-8", "after cl.isp_sg_starhub_block_forward (meta refresh to starhub.com/mda-blocked)",
         "<html><head><meta http-equiv=\"refresh\" content=\"0;URL=http://www.starhub.com/mda-blocked/01.html\"></head><body></body></html>\n",
         "http://www.pornhub.com/"),
        ("it_agcom", "IT", "it", "utf-8", "after cl.nat_it_agcom_block",
         "<html><head><title>AGCOM Stop Page</title></head><body><h1>Sito inibito</h1><p>L'accesso al sito {url} è stato disabilitato in esecuzione di un provvedimento dell'Autorità per le Garanzie nelle Comunicazioni.</p></body></html>\n",
         "http://www.streamingcommunity.to/"),
        ("it_agcom", "IT", "it", "iso-8859-1", "after ooni.it_0 (GdF Stop Page), latin-1",
         "<html><head>{meta}<title>GdF Stop Page</title></head><body><p>Il sito {url} è sottoposto a sequestro preventivo disposto dall'Autorità Giudiziaria.</p><p>Guardia di Finanza</p></body></html>\n",
         "http://www.ilcorsaronero.info/"),
        ("it_adm", "IT", "it", "utf-8", "after cl.nat_it_adm_block",
         "<html><head><title>ADM - Sito inibito</title><script>/* Matomo Giochi Illegali ADM */ var _paq = window._paq = [];</script></head><body><p>Il sito {url} non è autorizzato all'offerta di gioco in Italia.</p></body></html>\n",
         "http://www.bet365.com/"),
        ("be_national", "BE", "fr", "utf-8", "after ooni.be_0",
         "<html><head><title>Site bloqué</title></head><body><p>You are trying to access a website that is considered illegal according to Belgian legislation.</p><p>Vous tentez d'accéder à un site considéré comme illégal selon la législation belge.</p></body></html>\n",
         "http://www.thepiratebay.org/"),
        ("be_national", "BE", "nl", "iso-8859-1", "after cp.c_isp_be_telenet (Telenet), Dutch, latin-1",
         "<html><head>{meta}<title>Geblokkeerde website</title></head><body><p>De website {url} werd geblokkeerd op bevel van de Belgische overheid.</p><img src=\"http://networkmsg.telenet.be/blocked/bea/logo.png\"></body></html>\n",
         "http://www.betfair.com/"),
        ("dk_national", "DK", "da", "iso-8859-1", "after ooni.dk_0, latin-1",
         "<html><head>{meta}<title>Adgang blokeret</title></head><body><p>Teleudbyderen er ved kendelse fra retten pålagt at blokere for adgang til siden.</p><p>{url}</p></body></html>\n",
         "http://www.thepiratebay.org/"),
        ("dk_national", "DK", "da", "utf-8", "after cp.c_isp_dk_tdc",
         "<html><head><meta charset=\"utf-8\"><title>TDC – siden er blokeret</title></head><body><p>Siden {url} er blokeret efter dom.</p><a href=\"mailto:filter-stopside@tdc.dk\">filter-stopside@tdc.dk</a></body></html>\n",
         "http://www.popcorntime.sh/"),
        ("pt_judicial", "PT", "pt", "iso-8859-1", "after ooni.pt_1, latin-1 entity title",
         "<html><head>{meta}<title>Acesso bloqueado por entidade judici&aacute;ria</title></head><body><p>O acesso a {url} foi bloqueado por determinação judicial.</p></body></html>\n",
         "http://www.thepiratebay.org/"),
        ("pt_judicial", "PT", "pt", "utf-8", "after ooni.pt_0",
         "<html><head><title>Bloqueado por ordem judicial</title></head><body><p>Este site foi bloqueado por ordem judicial.</p></body></html>\n",
         "http://www.rarbg.to/"),
        ("co_mintic", "CO", "es", "utf-8", "after ooni.co_0",
         "<html><head><title>Página bloqueada</title></head><body><p>Esta página ha sido bloqueada por disposición del Ministerio de las TIC, en cumplimiento de la Ley 1336 de 2009.</p></body></html>\n",
         "http://www.pornhub.com/"),
        ("co_coljuegos", "CO", "es", "iso-8859-1", "after cp.b_nat_columbia_gambling_2, latin-1",
         "<html><head>{meta}<title>Coljuegos</title></head><body><p>El sitio {url} ofrece juegos de suerte y azar sin autorización.</p><a href=\"http://www.coljuegos.gov.co/publicaciones/301824\">www.coljuegos.gov.co/</a></body></html>\n",
         "http://www.bet365.com/"),
        ("ca_court", "CA", "en", "utf-8", "after ooni.ca_1 (Shaw)",
         "<html><head><title>Shaw</title></head><body><p>Access to this site has been blocked by an Order issued by the Federal Court of Canada.</p></body></html>\n",
         "http://www.goldtv.biz/"),
        ("ca_court", "CA", "fr", "utf-8", "after ooni.ca_2 (Rogers/Telus/TVA), bilingual",
         "<html><head><title>Blocked</title></head><body><p>Access to the location you have attempted to reach has been disabled pursuant to an Order&nbsp;of the Federal Court (Canada).</p><p>L'accès à l'emplacement que vous avez tenté d'atteindre a été désactivé en vertu d'une ordonnance de la Cour fédérale.</p></body></html>\n",
         "http://www.goldtv.ca/"),
        ("ua_national", "UA", "uk", "windows-1251", "after ooni.ua_0, windows-1251",
         "<html><head>{meta}<title>Доступ заборонено</title></head><body><p>Відвідування даного ресурсу заборонено згідно з рішенням РНБО.</p><p>{url}</p></body></html>\n",
         "http://www.vk.com/"),
        ("ua_national", "UA", "uk", "koi8-u", "after ooni.ua_0, KOI8-U",
         "<html><head>{meta}<title>Доступ заборонено</title></head><body><p>Відвідування даного ресурсу заборонено.</p><p>{url}</p></body></html>\n",
         "http://www.yandex.ru/"),
        ("ua_national", "UA", "uk", "utf-8", "reworded: a newer Ukrainian ISP template (Kyivstar-style) without the row's sentence",
         "<html><head><meta charset=\"utf-8\"><title>Ресурс заблоковано</title></head><body><h1>Ресурс заблоковано</h1><p>Доступ до {url} обмежено відповідно до рішення Ради національної безпеки і оборони України.</p></body></html>\n",
         "http://www.mail.ru/"),
        ("kg_elcat", "KG", "ru", "utf-8", "after cp.c_isp_kg_elcat",
         "<html><head><title>ElCat</title></head><body><p class=\"error\">Access to the requested website has been blocked by judicial decision!</p><p class=\"error\">Доступ к запрашиваемому сайту заблокирован по решению суда!</p></body></html>\n",
         "http://www.kloop.kg/"),
        ("lb_court", "LB", "ar", "windows-1256", "after cp.c_isp_lb_general, Arabic windows-1256",
         "<html dir=\"rtl\"><head>{meta}<title>موقع محجوب</title></head><body><p>THIS WEBSITE HAS BEEN BLOCKED BASED ON A COURT ORDER FROM THE LEBANESE JUDICIAL SYSTEM.</p><p>تم حجب هذا الموقع بناءً على قرار قضائي.</p></body></html>\n",
         "http://www.grindr.com/"),
        ("mm_mtc", "MM", "en", "utf-8", "after cl.nat_mm_transportcomms_block",
         "<html><head><title>Blocked</title></head><body><p>You have tried to access a web page which has been blocked as per directive received from the Ministry of Transport and Communications of Myanmar.</p></body></html>\n",
         "http://www.facebook.com/"),
        ("mm_mtc", "MM", "my", "utf-8", "after cl.nat_mm_transportcomms_block, with Burmese",
         "<html><head><meta charset=\"utf-8\"><title>Blocked</title></head><body><p>ဤဝက်ဘ်ဆိုက်ကို ပိတ်ပင်ထားပါသည်။</p><p>You have tried to access a web page which has been blocked as per directive received from the Ministry of Transport and Communications of Myanmar.</p></body></html>\n",
         "http://www.irrawaddy.com/"),
        ("ug_ucc", "UG", "en", "utf-8", "after ooni.ug_0",
         "<html><head><title>Blocked</title></head><body><p>According to UCC regulation, Pornography pages are restricted for browsing.</p></body></html>\n",
         "http://www.xvideos.com/"),
        ("gr_gaming", "GR", "el", "iso-8859-7", "after ooni.gr_0, ISO-8859-7",
         "<html><head>{meta}<title>Απαγορευμένη πρόσβαση</title></head><body><p>Η πρόσβαση στον ιστότοπο {url} έχει αποκλειστεί σύμφωνα με απόφαση της Επιτροπής Εποπτείας και Ελέγχου Παιγνίων.</p><a href=\"http://www.gamingcommission.gov.gr/index.php/forbidden-access-black-list/\">Μαύρη λίστα</a></body></html>\n",
         "http://www.bet365.com/"),
        ("ro_national", "RO", "ro", "iso-8859-2", "after ooni.ro_0, ISO-8859-2 (ș/ț lack the comma below there: numeric references)",
         "<html><head>{meta}<title>Acces restricționat</title></head><body><p>Accesul dumneavoastră către acest site a fost restricționat.</p><p>{url}</p></body></html>\n",
         "http://www.sputnik.md/"),
        ("gb_isps", "GB", "en", "utf-8", "after cl.isp_gb_vodafone_optinporn_block",
         "<html><head><title>Vodafone</title></head><body><p><strong>Age-restricted content bar</strong></p><p>{url} is age restricted.</p></body></html>\n",
         "http://www.pornhub.com/"),
        ("gb_isps", "GB", "en", "utf-8", "after cl.isp_gb_skybroadband_optinporn_block",
         "<html><head><title>Sky Broadband Shield</title></head><body><p>This site is blocked by Sky Broadband Shield.</p><a href=\"http://broadbandshield.sky.com\">broadbandshield.sky.com</a></body></html>\n",
         "http://www.bet365.com/"),
        ("gb_isps", "GB", "en", "utf-8", "after cl.isp_gb_talktalk_optinporn_block (meta refresh)",
         "<html><head><meta http-equiv=\"refresh\" content=\"0;url=http://www.talktalk.co.uk/notices/parental-controls.html?originalURL={url}\"></head><body></body></html>\n",
         "http://www.xvideos.com/"),
        ("es_national", "ES", "es", "utf-8", "after ooni.es_0",
         "<html><head><title>Dominio-No-Disponible</title></head><body><p>El dominio {url} no está disponible por resolución judicial.</p></body></html>\n",
         "http://www.elitetorrent.net/"),
        ("fr_national", "FR", "fr", "utf-8", "after ooni.fr_0",
         "<html><head><title>Ministère de l'Intérieur</title><script>xtpage = \"page-blocage-terrorisme\";</script></head><body><p>Vous avez été redirigé vers cette page du site du ministère de l'Intérieur car vous avez tenté de vous connecter à une page dont le contenu incite à des actes de terrorisme.</p></body></html>\n",
         "http://www.example-extremist.org/"),
        ("sk_national", "SK", "sk", "windows-1250", "after cp.b_nat_slovakia, windows-1250",
         "<html><head>{meta}<title>Webová stránka blokovaná</title></head><body><p>Prístup na stránku {url} je blokovaný na základe rozhodnutia Úradu pre reguláciu hazardných hier.</p><a href=\"http://www.overithraca.sk/webblokovany\">Viac</a></body></html>\n",
         "http://www.bet365.com/"),
        ("cn_icp", "CN", "zh-CN", "gbk", "after cp.c_isp_cn_runxun_body (hosting ISP's unfiled-ICP notice), GBK",
         "<html><head>{meta}<title>网站暂时无法访问</title></head><body><p>该网站暂时无法访问，可能原因：您访问的网站未备案或备案信息不符，已被暂停访问。</p><p><a href=\"http://www.runxun.com/weibeian.html\">查看详情</a></p></body></html>\n",
         "http://www.example.cn/"),
        ("cn_icp", "CN", "zh-CN", "gb2312", "after cp.c_isp_cn_runxun_body, GB2312",
         "<html><head>{meta}<title>网站未备案</title></head><body><p>根据工信部相关规定，未备案网站不得提供服务。</p><p><a href=\"http://www.runxun.com/weibeian.html\">www.runxun.com</a></p></body></html>\n",
         "http://www.example.com.cn/"),
        ("cn_idc", "CN", "zh-CN", "gbk", "after cp.e_unk_cn_not_filed_1 (Censored Planet: a Chinese data centre's page for a domain without ICP filing), GBK",
         "<html><head>{meta}<title>域名未备案</title></head><body><div style=\"text-align:center;margin-top:80px\"><h2>您好，该域名未备案，已被封停，请联系机房核实！！！！</h2></div></body></html>\n",
         "http://www.example-unfiled.cn/"),
        ("cn_idc", "CN", "zh-CN", "gb2312", "after cp.e_unk_china_web_blocked (Censored Planet), GB2312",
         "<html><head>{meta}<title>网站屏蔽提示</title></head><body><div class=\"box\"><p>您访问的网站被屏蔽，有可能是以下原因造成：</p><ol><li>该网站未备案；</li><li>该网站含有违法违规内容。</li></ol></div></body></html>\n",
         "http://www.example-blocked.cn/"),
        ("tw_tanwp", "TW", "zh-TW", "big5", "after cp.e_unk_org_tw_1_satellite (Censored Planet: TANet's filtering system), Big5",
         "<html><head>{meta}<title> TANWP不當資訊防護系統 - 您疑似欲連線至不當網站</title></head><body><h2>您疑似欲連線至不當網站</h2><p>{url}</p></body></html>\n",
         "http://www.example-gambling.com/"),
        ("kr_skt", "KR", "ko", "euc-kr", "after ooni.kr_5 (the SK Telecom youth filter page by its title only), EUC-KR",
         "<html><head>{meta}<title>청소년 유해차단서비스</title></head><body><p>청소년에게 유해한 사이트로 접속이 차단되었습니다.</p></body></html>\n",
         "http://www.example-adult.kr/"),
        ("cy_national", "CY", "el", "utf-8", "after ooni.cy_0",
         "<html><head><meta charset=\"utf-8\"><title>Εθνική Αρχή Στοιχημάτων</title></head><body><p>Η πρόσβαση στην ιστοσελίδα {url} απαγορεύεται.</p><a href=\"http://www.nba.com.cy/Eas/eas.nsf/All/6F7F17A7790A55C8C2257B130055C86F\">Κατάλογος</a></body></html>\n",
         "http://www.bet365.com/"),
        ("np_worldlink", "NP", "ne", "utf-8", "header-only: after ooni.np_0 (Location to blockdomain.worldlink.com.np)",
         "", "http://www.tinder.com/"),
        ("by_national", "BY", "ru", "utf-8", "header-only: after ooni.by_2 (a 302 to internet.mts.by/blocked/)",
         "", "http://www.charter97.org/"),
        ("ru_rostelecom", "RU", "ru", "utf-8", "header-only: after ooni.ru_6 (a 302 to warning.rt.ru)",
         "", "http://rutracker.org/"),
        ("ru_mgts", "RU", "ru", "utf-8", "header-only: after ooni.ru_17 (a 307 to blocked.mgts.ru)",
         "", "http://navalny.com/"),
    ]
    counts = {}
    locs = {
        "np_nta": "http://nta.gov.np/en/notice-regarding-site-block",
    }
    for vendor, cc, lang, enc, note, tmpl, url in P:
        counts[vendor] = counts.get(vendor, 0) + 1
        folder = cc.lower()
        stem = vendor.split("_", 1)[1] if "_" in vendor else vendor
        taken = {q["file"] for q in PAGES}
        while tmpl and f"blockpages/{folder}/{stem}_{counts[vendor]}.html" in taken:
            counts[vendor] += 1
        name = f"blockpages/{folder}/{stem}_{counts[vendor]}.html"
        if tmpl == "":
            name = f"blockpages/{folder}/{stem}_redirect_{counts[vendor]}.html"
            PAGES_REDIRECTS.append((name, vendor, cc, lang, note, url))
            continue
        add(name, "blockpage", vendor, cc, lang, enc, note, tmpl.format(meta=meta(enc), url=url), url, 200, [],
            enc == "utf-8")


PAGES_REDIRECTS = []


def header_only_redirects(locations):
    for name, vendor, cc, lang, note, url in PAGES_REDIRECTS:
        loc = locations[(vendor, url)]
        add(name, "blockpage", vendor, cc, lang, "utf-8", note, "", url, 302 if "307" not in note else 307,
            [("Location", loc), ("Content-Length", "0"), ("Server", "nginx")])


# ---------------------------------------------------------------------------------------------
# Ordinary pages
# ---------------------------------------------------------------------------------------------
def article(lang, enc, title, site, paras, extra_head=""):
    ps = "\n".join(f"<p>{p}</p>" for p in paras)
    nav = "".join(f'<li><a href="/section/{i}">{x}</a></li>' for i, x in enumerate(["World", "Tech", "Politics", "Opinion", "Video"]))
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
{meta(enc)}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} | {site}</title>
<meta property="og:title" content="{title}">
<link rel="stylesheet" href="/assets/site.css">
{extra_head}
</head>
<body>
<header class="site-header"><a class="logo" href="/">{site}</a><nav><ul>{nav}</ul></nav></header>
<main><article>
<h1>{title}</h1>
<div class="byline">2026-03-11</div>
{ps}
</article>
<aside><h3>Most read</h3><ol><li><a href="/a/1">Markets close higher</a></li><li><a href="/a/2">Weather warning for the weekend</a></li></ol></aside>
</main>
<footer>&copy; 2026 {site}. <a href="/privacy">Privacy</a> <a href="/terms">Terms</a></footer>
<script src="/assets/site.js" defer></script>
</body>
</html>
"""


NEWS = [
    ("en", "utf-8", "Indonesia's TrustPositif blocklist now covers more than a million domains", "Rest of World", "https://restofworld.example/2026/indonesia-trustpositif", [
        "Visitors to blocked sites in Indonesia land on a page that reads <q>This page is blocked by <a href=http://trustpositif.kominfo.go.id>TrustPositif</a></q>, the national blocklist run by the communications ministry.",
        "Researchers at OONI found that ISPs serve their own variants: Telkomsel points users to internetbaik.telkomsel.com, while XL Axiata uses blockpage.xlaxiata.id.",
        "Complaints go to aduankonten@kominfo.go.id, but few sites are ever removed from the list, activists said.",
        "The page says sites <q>tidak bisa diakses melalui jaringan ini sesuai peraturan perundang-undangan</q>, which translates to 'cannot be accessed through this network according to the law'."]),
    ("en", "utf-8", "How Russia's censorship register works", "Meduza in English", "https://meduza.example/en/feature/rkn-register", [
        "Roskomnadzor keeps the unified register of banned sites at eais.rkn.gov.ru; anyone can check a domain at blocklist.rkn.gov.ru.",
        "When a site is blocked, Rostelecom customers see a page titled block-system, and MTS subscribers are shown an iframe from subblock.mts.ru.",
        "The wording is the same everywhere: <q>Доступ к сайту ограничен в соответствии с Федеральными законами</q> (access to the site is restricted in accordance with federal laws).",
        "VPN providers such as Proton saw sign-ups spike after the latest wave of blocks."]),
    ("ru", "windows-1251", "Роскомнадзор заблокировал ещё несколько VPN-сервисов", "Новая газета", "https://novayagazeta.example/news/2026/03/11/vpn", [
        "Роскомнадзор сообщил о блокировке ещё нескольких VPN-сервисов. Проверить, включён ли сайт в реестр, можно на eais.rkn.gov.ru.",
        "Пользователи видят страницу с текстом «Доступ к сайту ограничен в соответствии с Федеральными законами».",
        "У абонентов МТС вместо сайта открывается страница subblock.mts.ru, у Билайна — ссылка на http://www.beeline.ru/customers/help/safe-beeline/.",
        "Эксперты считают, что блокировки только подталкивают пользователей к обходу."]),
    ("ru", "koi8-r", "Как устроены заглушки провайдеров", "Хабр", "https://habr.example/ru/articles/712345/", [
        "Большинство провайдеров показывают заглушку «Доступ к ресурсу ограничен» со ссылкой на http://eais.rkn.gov.ru/.",
        "У Ростелекома заглушка называется block-system и подключает счётчик Яндекс.Метрики 38740850.",
        "Мы собрали тексты заглушек 40 провайдеров и сравнили их."]),
    ("ko", "euc-kr", "방심위, 해외 불법 사이트 접속 차단 확대", "한겨레", "https://hani.example/arti/society/1100123.html", [
        "방송통신심의위원회는 해외 불법 도박·음란 사이트에 대한 접속 차단을 확대한다고 밝혔다.",
        "차단된 사이트에 접속하면 warning.or.kr 안내 페이지로 연결된다.",
        "일부 이용자들은 SNI 차단 방식에 대해 사생활 침해 우려를 제기했다."]),
    ("ko", "utf-8", "warning.or.kr 차단 페이지, 10년의 기록", "블로터", "https://bloter.example/news/2026031101", [
        "‘불법·유해 정보(사이트)에 대한 차단 안내’라는 제목의 페이지는 http://warning.or.kr 에서 제공된다.",
        "SK텔레콤의 청소년 유해차단서비스는 cleanmobile01.nate.com 으로 연결된다."]),
    ("tr", "iso-8859-9", "Erişim engelleri 2025 raporu yayımlandı", "bianet", "https://bianet.example/haber/erisim-engelleri-2025", [
        "İFÖD'ün raporuna göre 2025 yılında 200 binden fazla alan adına erişim engellendi.",
        "Engellenen sitelerde 'Telekomünikasyon İletişim Başkanlığı' başlıklı sayfa ve 5651 sayılı kanuna atıf yapan bir bildirim gösteriliyor.",
        "Raporda Ekşi Sözlük ve Wikipedia örneklerine de yer verildi."]),
    ("fa", "utf-8", "فیلترینگ در ایران: صفحه پیوندها", "BBC فارسی", "https://bbc.example/persian/iran-filtering", [
        "کاربرانی که به سایت‌های فیلترشده مراجعه می‌کنند به صفحه peyvandha.ir هدایت می‌شوند.",
        "این صفحه از طریق یک iframe به نشانی 10.10.34.34 نمایش داده می‌شود.",
        "کارشناسان می‌گویند فیلترینگ در سال‌های اخیر گسترش یافته است."]),
    ("fa", "windows-1256", "گزارش سالانه فیلترینگ", "رادیو فردا", "https://radiofarda.example/a/filtering-report", [
        "بر اساس گزارش، دسترسی به بیش از هزار سایت خبری مسدود شده است.",
        "صفحه‌ای که کاربران می‌بینند عبارت «دسترسی به این تارنما امکان پذیر نمی باشد» را نشان می‌دهد."]),
    ("en", "utf-8", "Netsweeper's filtering technology found in 10 countries", "Citizen Lab", "https://citizenlab.example/2026/03/netsweeper-followup/", [
        "We identified Netsweeper installations on national ISPs in Kuwait, Yemen, Sudan and Pakistan. Blocked requests are redirected to URLs containing /webadmin/deny/ and a dpruleid parameter.",
        "Some deployments link to poweredbynetsweeper.com from the block page footer.",
        "We also observed FortiGuard deployments whose block pages say 'Powered By FortiGuard' and 'You have tried to access a web page which is in violation of your internet usage policy.'",
        "Zain Kuwait's installation uses restrict.kw.zain.com."]),
    ("en", "utf-8", "South Korea's SNI filtering, explained", "The Korea Herald", "https://koreaherald.example/view.php?ud=20260311000123", [
        "Since 2019, Korean ISPs have inspected the SNI field to redirect users to warning.or.kr when they try to open one of the sites on the KCSC's list.",
        "Users see a notice titled '불법·유해 정보(사이트)에 대한 차단 안내'."]),
    ("id", "utf-8", "Kominfo blokir ribuan situs judi online", "Kompas", "https://kompas.example/tekno/read/2026/03/11/kominfo-blokir", [
        "Kementerian Komunikasi dan Informatika memblokir ribuan situs judi online melalui sistem TrustPositif (trustpositif.kominfo.go.id).",
        "Pengguna yang mengakses situs tersebut akan melihat halaman Internet Positif dengan keterangan situs tidak bisa diakses melalui jaringan ini sesuai peraturan perundang-undangan.",
        "Masyarakat dapat melapor ke aduankonten@kominfo.go.id."]),
    ("ar", "windows-1256", "السعودية تحجب مواقع جديدة", "الجزيرة نت", "https://aljazeera.example/news/2026/3/11/saudi-block", [
        "أعلنت هيئة الاتصالات حجب عدد من المواقع. وتظهر للمستخدمين صفحة بعنوان Blocked URL العنوان محجوب.",
        "ويمكن طلب رفع الحجب عبر الموقع www.internet.gov.sa."]),
    ("th", "tis-620", "กระทรวงดิจิทัลฯ ปิดเว็บไซต์ผิดกฎหมาย", "ประชาไท", "https://prachatai.example/journal/2026/03/105000", [
        "กระทรวงดิจิทัลเพื่อเศรษฐกิจและสังคมสั่งปิดเว็บไซต์กว่า 500 แห่ง",
        "ผู้ใช้จะเห็นข้อความว่าเว็บไซต์ถูกระงับโดยกระทรวงดิจิทัลเพื่อเศรษฐกิจและสังคม"]),
    ("zh-CN", "gbk", "网站备案新规解读", "新浪科技", "https://tech.sina.example/i/2026-03-11/doc-ima.shtml", [
        "根据工信部规定，未备案网站将被暂停访问。",
        "部分云服务商在暂停页面中链接到备案说明，例如 runxun.com 的 weibeian 页面。"]),
    ("zh-TW", "big5", "網路審查觀察：中國防火長城的新手法", "自由時報", "https://ltn.example/news/world/breakingnews/4600000", [
        "研究人員發現，防火長城開始針對 QUIC 流量進行封鎖。",
        "與其他國家不同，中國通常不顯示封鎖頁面，而是直接重設連線。"]),
    ("ja", "shift_jis", "フィルタリングソフトの誤ブロック問題", "ITmedia", "https://itmedia.example/news/articles/2603/11/news100.html", [
        "企業のFortiGuardやPalo Altoのフィルタリングで、ニュースサイトが誤ってブロックされる事例が報告されている。",
        "ブロックページには「Webページがブロックされました」と表示される。"]),
    ("en", "utf-8", "Pakistan blocks X again", "Dawn", "https://dawn.example/news/1820000", [
        "Users in Pakistan saw a page saying the site contains content that is prohibited for viewership from within Pakistan.",
        "The PTA did not comment. Netsweeper equipment has been reported on Pakistani networks since 2013."]),
    ("en", "utf-8", "Block page of the week: Italy's AGCOM Stop Page", "Torrentfreak", "https://torrentfreak.example/agcom-stop-page-260311/", [
        "Italian ISPs redirect blocked pirate sites to a page titled AGCOM Stop Page.",
        "Gambling sites get the ADM page, which embeds a Matomo Giochi Illegali ADM tracker.",
        "The Guardia di Finanza uses its own GdF Stop Page for seized domains."]),
    ("en", "utf-8", "Web Page Blocked: why your office filter stopped this article", "The Register", "https://theregister.example/2026/03/11/web_filters/", [
        "If you are reading this, your company's Palo Alto box didn't say 'Access to the web page you were trying to visit has been blocked in accordance with company policy.'",
        "Other readers reported SonicWALL - Web Site Blocked pages and McAfee Web Gateway notifications."]),
]


def ordinary_news():
    for i, (lang, enc, title, site, url, paras) in enumerate(NEWS, 1):
        html = article(lang, enc, title, site, paras)
        add(f"ordinary/news/article_{i:02d}.html", "ordinary", "news_censorship", "", lang, enc,
            f"news article about censorship quoting blockpage text or blocklist domains ({site}-style layout, written for this set)",
            html, url, 200, [("Server", "nginx"), ("Cache-Control", "max-age=60"), ("Vary", "Accept-Encoding")], i % 3 != 0)


def ordinary_defaults():
    add("ordinary/defaults/nginx_welcome.html", "ordinary", "nginx_default", "", "en", "utf-8", "nginx's stock index.html",
        """<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href="http://nginx.org/">nginx.org</a>.<br/>
Commercial support is available at
<a href="http://nginx.com/">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
""", "http://203.0.113.10/", 200, [("Server", "nginx/1.24.0"), ("Content-Type", "text/html")])
    add("ordinary/defaults/apache_debian.html", "ordinary", "apache_default", "", "en", "utf-8", "Apache2 Debian/Ubuntu default page (abridged)",
        """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
  <head>
    <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
    <title>Apache2 Ubuntu Default Page: It works</title>
  </head>
  <body>
    <div class="main_page">
      <div class="page_header floating_element">
        <span class="floating_element">Apache2 Ubuntu Default Page</span>
      </div>
      <div class="content_section floating_element">
        <div class="section_header section_header_red">It works!</div>
        <div class="content_section_text">
          <p>This is the default welcome page used to test the correct operation of the Apache2 server after installation on Ubuntu systems.</p>
          <p>If you can read this page, it means that the Apache HTTP server installed at this site is working properly. You should <b>replace this file</b> (located at <tt>/var/www/html/index.html</tt>) before continuing to operate your HTTP server.</p>
        </div>
        <div class="section_header">Configuration Overview</div>
        <div class="content_section_text">
          <p>Ubuntu's Apache2 default configuration is different from the upstream default configuration, and split into several files optimized for interaction with Ubuntu tools.</p>
          <p>The configuration layout for an Apache2 web server installation on Debian systems is as follows:</p>
        </div>
      </div>
    </div>
  </body>
</html>
""", "http://198.51.100.20/", 200, [("Server", "Apache/2.4.58 (Ubuntu)"), ("Content-Type", "text/html")])
    add("ordinary/defaults/apache_itworks.html", "ordinary", "apache_default", "", "en", "utf-8", "upstream Apache httpd index.html",
        "<html><body><h1>It works!</h1></body></html>\n", "http://198.51.100.21/", 200, [("Server", "Apache/2.4.62 (Unix)"), ("Content-Type", "text/html")])
    add("ordinary/defaults/iis.html", "ordinary", "iis_default", "", "en", "utf-8", "IIS 10 iisstart.htm",
        """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1" />
<title>IIS Windows Server</title>
<style type="text/css">
body { color:#000000; background-color:#0072C6; margin:0; }
#container { margin-left:auto; margin-right:auto; text-align:center; }
</style>
</head>
<body>
<div id="container">
<a href="http://go.microsoft.com/fwlink/?linkid=66138&amp;clcid=0x409"><img src="iisstart.png" alt="IIS" width="960" height="600" /></a>
</div>
</body>
</html>
""", "http://192.0.2.30/", 200, [("Server", "Microsoft-IIS/10.0"), ("Content-Type", "text/html"), ("X-Powered-By", "ASP.NET")])
    add("ordinary/defaults/lighttpd.html", "ordinary", "lighttpd_default", "", "en", "utf-8", "lighttpd Debian placeholder page (abridged)",
        """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="content-type" content="text/html; charset=UTF-8" />
<title>Welcome page</title>
</head>
<body>
<div id="header"><h1>Placeholder page</h1></div>
<div id="body">
<p>The owner of this web site has not put up any web pages yet. Please come back later.</p>
<p><small><em>Move along, nothing to see here...</em> :-)</small></p>
<h2>If you are the website administrator:</h2>
<p>This is the default web page for this server. The web server software is running but no content has been added, yet.</p>
<p>You should replace this page with your own web pages as soon as possible.</p>
<p>Unless you changed its configuration, your new server is configured as follows:</p>
<ul><li>Configuration files can be found in <tt>/etc/lighttpd</tt>.</li></ul>
</div>
</body>
</html>
""", "http://192.0.2.31/", 200, [("Server", "lighttpd/1.4.69"), ("Content-Type", "text/html")])
    add("ordinary/defaults/caddy.html", "ordinary", "caddy_default", "", "en", "utf-8", "Caddy's 'Congratulations' default page (abridged)",
        """<!DOCTYPE html>
<html>
<head>
<title>Caddy works!</title>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
</head>
<body>
<div class="stack">
<img class="logo" src="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=" alt="Caddy">
<h1>Congratulations!</h1>
<h2>Your web server is working. Now make it work for you.</h2>
<p>Caddy is ready to serve your site over HTTPS:</p>
<ol><li>Point your domain's A/AAAA DNS records at this machine.</li><li>Upload your site's files to <code>/var/www/html</code>.</li><li>Edit your Caddyfile at <code>/etc/caddy/Caddyfile</code>.</li><li>Reload the configuration: <code>systemctl reload caddy</code></li></ol>
</div>
</body>
</html>
""", "http://192.0.2.32/", 200, [("Server", "Caddy"), ("Content-Type", "text/html; charset=utf-8")])
    add("ordinary/defaults/centos.html", "ordinary", "centos_default", "", "en", "utf-8", "CentOS/Apache test page (abridged)",
        "<!DOCTYPE html><html><head><title>Apache HTTP Server Test Page powered by CentOS</title></head><body><h1>Testing 123..</h1><p>This page is used to test the proper operation of the Apache HTTP server after it has been installed. If you can read this page it means that this site is working properly.</p></body></html>\n",
        "http://192.0.2.33/", 403, [("Server", "Apache/2.4.6 (CentOS)")])
    add("ordinary/defaults/tomcat.html", "ordinary", "tomcat_default", "", "en", "utf-8", "Apache Tomcat default ROOT page (abridged)",
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"UTF-8\" /><title>Apache Tomcat/9.0.85</title></head><body><div id=\"wrapper\"><h2>If you're seeing this, you've successfully installed Tomcat. Congratulations!</h2><h3>Recommended Reading:</h3><h4><a href=\"/docs/security-howto.html\">Security Considerations How-To</a></h4></div></body></html>\n",
        "http://192.0.2.34:8080/", 200, [])
    add("ordinary/defaults/plesk.html", "ordinary", "plesk_default", "", "en", "utf-8", "Plesk 'Web Server's Default Page'",
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Web Server's Default Page</title></head><body><div class=\"page-info-heading\">Web Server's Default Page</div><p>This page is generated by Plesk, the leading hosting automation software. You see this page because there is no website at this address.</p></body></html>\n",
        "http://192.0.2.35/", 200, [("Server", "nginx"), ("X-Powered-By", "PleskLin")])
    add("ordinary/defaults/openresty.html", "ordinary", "openresty_default", "", "en", "utf-8", "OpenResty default index",
        "<!DOCTYPE html>\n<html>\n<head>\n<meta content=\"text/html;charset=utf-8\" http-equiv=\"Content-Type\">\n<title>Welcome to OpenResty!</title>\n</head>\n<body>\n<h1>Welcome to OpenResty!</h1>\n<p>If you see this page, the OpenResty web platform is successfully installed and working. Further configuration is required.</p>\n<p><em>Thank you for flying <a href=\"https://openresty.org/\">OpenResty</a>.</em></p>\n</body>\n</html>\n",
        "http://192.0.2.36/", 200, [("Server", "openresty")])
    add("ordinary/defaults/nginx_fedora.html", "ordinary", "nginx_default", "", "en", "utf-8", "nginx test page on Fedora (abridged)",
        "<!DOCTYPE html><html><head><title>Test Page for the Nginx HTTP Server on Fedora</title><meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" /></head><body><h1>Welcome to <strong>nginx</strong> on Fedora!</h1><p>This page is used to test the proper operation of the <strong>nginx</strong> HTTP server after it has been installed.</p></body></html>\n",
        "http://192.0.2.37/", 200, [("Server", "nginx/1.26.0")])


def ordinary_errors():
    E = [
        ("nginx_error", "nginx_403.html", 403, "nginx 403", "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n", [("Server", "nginx")]),
        ("nginx_error", "nginx_404.html", 404, "nginx 404", "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx/1.24.0</center>\r\n</body>\r\n</html>\r\n", [("Server", "nginx/1.24.0")]),
        ("nginx_error", "nginx_502.html", 502, "nginx 502", "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n", [("Server", "nginx")]),
        ("nginx_error", "nginx_503.html", 503, "nginx 503", "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n", [("Server", "nginx")]),
        ("apache_error", "apache_403.html", 403, "Apache 403", "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>403 Forbidden</title>\n</head><body>\n<h1>Forbidden</h1>\n<p>You don't have permission to access this resource.</p>\n<hr>\n<address>Apache/2.4.58 (Ubuntu) Server at www.example.org Port 80</address>\n</body></html>\n", [("Server", "Apache/2.4.58 (Ubuntu)"), ("Content-Type", "text/html; charset=iso-8859-1")]),
        ("apache_error", "apache_404.html", 404, "Apache 404", "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>404 Not Found</title>\n</head><body>\n<h1>Not Found</h1>\n<p>The requested URL was not found on this server.</p>\n<hr>\n<address>Apache Server at www.example.org Port 80</address>\n</body></html>\n", [("Server", "Apache"), ("Content-Type", "text/html; charset=iso-8859-1")]),
        ("apache_error", "apache_500.html", 500, "Apache 500", "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>500 Internal Server Error</title>\n</head><body>\n<h1>Internal Server Error</h1>\n<p>The server encountered an internal error or\nmisconfiguration and was unable to complete\nyour request.</p>\n<p>More information about this error may be available\nin the server error log.</p>\n</body></html>\n", [("Server", "Apache"), ("Content-Type", "text/html; charset=iso-8859-1")]),
        ("apache_error", "apache_503.html", 503, "Apache 503", "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>503 Service Unavailable</title>\n</head><body>\n<h1>Service Unavailable</h1>\n<p>The server is temporarily unable to service your\nrequest due to maintenance downtime or capacity\nproblems. Please try again later.</p>\n</body></html>\n", [("Server", "Apache"), ("Content-Type", "text/html; charset=iso-8859-1")]),
        ("iis_error", "iis_404.html", 404, "IIS 404.0", "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\r\n<html xmlns=\"http://www.w3.org/1999/xhtml\">\r\n<head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\"/>\r\n<title>404 - File or directory not found.</title>\r\n</head>\r\n<body>\r\n<div id=\"header\"><h1>Server Error</h1></div>\r\n<div id=\"content\">\r\n <div class=\"content-container\"><fieldset>\r\n  <h2>404 - File or directory not found.</h2>\r\n  <h3>The resource you are looking for might have been removed, had its name changed, or is temporarily unavailable.</h3>\r\n </fieldset></div>\r\n</div>\r\n</body>\r\n</html>\r\n", [("Server", "Microsoft-IIS/10.0"), ("Content-Type", "text/html")]),
        ("iis_error", "iis_403.html", 403, "IIS 403", "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\r\n<html xmlns=\"http://www.w3.org/1999/xhtml\">\r\n<head>\r\n<title>403 - Forbidden: Access is denied.</title>\r\n</head>\r\n<body>\r\n<div id=\"header\"><h1>Server Error</h1></div>\r\n<div id=\"content\"><fieldset><h2>403 - Forbidden: Access is denied.</h2>\r\n<h3>You do not have permission to view this directory or page using the credentials that you supplied.</h3></fieldset></div>\r\n</body>\r\n</html>\r\n", [("Server", "Microsoft-IIS/8.5"), ("Content-Type", "text/html")]),
        ("iis_error", "iis_500.html", 500, "IIS 500", "<html><head><title>Runtime Error</title></head><body><h1>Server Error in '/' Application.</h1><h2><i>Runtime Error</i></h2><p>An application error occurred on the server.</p></body></html>\n", [("Server", "Microsoft-IIS/10.0"), ("X-AspNet-Version", "4.0.30319")]),
        ("lighttpd_error", "lighttpd_404.html", 404, "lighttpd 404", "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n         \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n  <h1>404 Not Found</h1>\n </body>\n</html>\n", [("Server", "lighttpd/1.4.69")]),
        ("varnish_error", "varnish_503.html", 503, "Varnish guru meditation", "<!DOCTYPE html>\n<html>\n  <head>\n    <title>503 Backend fetch failed</title>\n  </head>\n  <body>\n    <h1>Error 503 Backend fetch failed</h1>\n    <p>Backend fetch failed</p>\n    <h3>Guru Meditation:</h3>\n    <p>XID: 45612345</p>\n    <hr>\n    <p>Varnish cache server</p>\n  </body>\n</html>\n", [("Server", "Varnish"), ("X-Varnish", "45612345")]),
        ("tomcat_error", "tomcat_404.html", 404, "Tomcat 404", "<!doctype html><html lang=\"en\"><head><title>HTTP Status 404 – Not Found</title></head><body><h1>HTTP Status 404 – Not Found</h1><hr class=\"line\" /><p><b>Type</b> Status Report</p><p><b>Description</b> The origin server did not find a current representation for the target resource or is not willing to disclose that one exists.</p><hr class=\"line\" /><h3>Apache Tomcat/9.0.85</h3></body></html>", []),
        ("app_error", "wordpress_404.html", 404, "a WordPress theme's 404 page", article("en", "utf-8", "Page not found", "Example Blog", ["Oops! That page can&rsquo;t be found.", "It looks like nothing was found at this location. Maybe try a search?"]), [("Server", "Apache"), ("Link", "<https://blog.example/wp-json/>; rel=\"https://api.w.org/\"")]),
        ("app_error", "django_500.html", 500, "a site's own 500 page", "<!doctype html><html lang=\"en\"><head><title>Server Error (500)</title></head><body><h1>Server Error (500)</h1><p></p></body></html>\n", [("Server", "gunicorn")]),
        ("app_error", "maintenance_503.html", 503, "a site's maintenance page", "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>We'll be back soon!</title></head><body><article><h1>We&rsquo;ll be back soon!</h1><div><p>Sorry for the inconvenience but we&rsquo;re performing some maintenance at the moment. We&rsquo;ll be back online shortly!</p><p>&mdash; The Team</p></div></article></body></html>\n", [("Server", "nginx"), ("Retry-After", "3600")]),
        ("app_error", "spring_403.html", 403, "Spring Whitelabel error page", "<html><body><h1>Whitelabel Error Page</h1><p>This application has no explicit mapping for /error, so you are seeing this as a fallback.</p><div id='created'>Wed Mar 11 10:22:01 UTC 2026</div><div>There was an unexpected error (type=Forbidden, status=403).</div></body></html>", []),
        ("app_error", "ru_404.html", 404, "a Russian site's own 404 page (windows-1251)", None, [("Server", "nginx")]),
        ("app_error", "jp_404.html", 404, "a Japanese site's 404 page (EUC-JP)", None, [("Server", "Apache")]),
        ("s3_error", "s3_403.xml.html", 403, "Amazon S3 AccessDenied", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>5X7KQ1NWZ2R3P6V8</RequestId><HostId>p3Rn0dpgBk6w7lR0Wb8Cw0n1wI5bZ3R0Jk1Yt=</HostId></Error>", [("Server", "AmazonS3"), ("Content-Type", "application/xml")]),
        ("github_pages_404", "github_pages_404.html", 404, "GitHub Pages 404 (abridged)", "<!DOCTYPE html>\n<html>\n  <head>\n    <meta http-equiv=\"Content-type\" content=\"text/html; charset=utf-8\">\n    <title>Site not found &middot; GitHub Pages</title>\n  </head>\n  <body>\n    <div class=\"container\">\n      <h1>404</h1>\n      <p><strong>There isn't a GitHub Pages site here.</strong></p>\n      <p>If you're trying to publish one, <a href=\"https://help.github.com/pages/\">read the full documentation</a> to learn how to set up <strong>GitHub Pages</strong> for your repository, organization, or user account.</p>\n    </div>\n  </body>\n</html>\n", [("Server", "GitHub.com")]),
    ]
    for vendor, fname, status, note, html, hdrs in E:
        enc = "utf-8"
        if fname == "ru_404.html":
            enc = "windows-1251"
            html = article("ru", enc, "Страница не найдена", "Ведомости", ["Ошибка 404. Страница, которую вы ищете, не существует или была удалена.", "Вернуться на <a href=\"/\">главную</a>."])
        elif fname == "jp_404.html":
            enc = "euc-jp"
            html = article("ja", enc, "ページが見つかりません", "価格比較サイト", ["お探しのページは見つかりませんでした。", "URLが正しいかご確認ください。"])
        add(f"ordinary/errors/{fname}", "ordinary", vendor, "", "en" if enc == "utf-8" else ("ru" if enc == "windows-1251" else "ja"), enc,
            note, html, f"http://www.example-{vendor.replace('_', '-')}.test/missing", status, hdrs, enc != "euc-jp")


def ordinary_cdn():
    C = [
        ("cloudflare_challenge", "cf_just_a_moment.html", 403, "Cloudflare managed challenge ('Just a moment...', abridged)",
         "<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment...</title><meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\"><meta http-equiv=\"X-UA-Compatible\" content=\"IE=Edge\"><meta name=\"robots\" content=\"noindex,nofollow\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"></head><body><div class=\"main-wrapper\" role=\"main\"><div class=\"main-content\"><noscript><div class=\"h2\"><span id=\"challenge-error-text\">Enable JavaScript and cookies to continue</span></div></noscript></div></div><script>(function(){window._cf_chl_opt={cvId: '3',cZone: \"www.example.com\",cType: 'managed',cRay: '8a1b2c3d4e5f6a7b',cH: 'abc',cUPMDTk: \"/?__cf_chl_tk=xyz\"};var a = document.createElement('script');a.src = '/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1?ray=8a1b2c3d4e5f6a7b';document.getElementsByTagName('head')[0].appendChild(a);}());</script></body></html>",
         [("Server", "cloudflare"), ("CF-RAY", "8a1b2c3d4e5f6a7b-FRA"), ("cf-mitigated", "challenge"), ("Content-Type", "text/html; charset=UTF-8")]),
        ("cloudflare_challenge", "cf_attention_required.html", 403, "Cloudflare WAF block ('Attention Required!', abridged)",
         "<!DOCTYPE html>\n<!--[if lt IE 7]> <html class=\"no-js ie6 oldie\" lang=\"en-US\"> <![endif]-->\n<head>\n<title>Attention Required! | Cloudflare</title>\n<meta charset=\"UTF-8\" />\n</head>\n<body>\n<div id=\"cf-wrapper\">\n<div id=\"cf-error-details\" class=\"cf-error-details-wrapper\">\n<h1 data-translate=\"block_headline\">Sorry, you have been blocked</h1>\n<h2 class=\"cf-subheadline\"><span data-translate=\"unable_to_access\">You are unable to access</span> example.com</h2>\n<h2 data-translate=\"blocked_why_headline\">Why have I been blocked?</h2>\n<p data-translate=\"blocked_why_detail\">This website is using a security service to protect itself from online attacks. The action you just performed triggered the security solution.</p>\n<div class=\"cf-error-footer cf-wrapper\"><p><span>Cloudflare Ray ID: <strong>8a1b2c3d4e5f6a7c</strong></span> &bull; <span>Performance &amp; security by <a href=\"https://www.cloudflare.com/5xx-error-landing\">Cloudflare</a></span></p></div>\n</div>\n</div>\n</body>\n</html>\n",
         [("Server", "cloudflare"), ("CF-RAY", "8a1b2c3d4e5f6a7c-AMS"), ("Content-Type", "text/html; charset=UTF-8")]),
        ("cloudflare_challenge", "cf_please_wait.html", 503, "older Cloudflare 'I'm Under Attack' interstitial ('Please Wait... | Cloudflare'), which OONI rows ooni.in_6/id_39/mm_http_2 list",
         "<!DOCTYPE HTML>\n<html lang=\"en-US\">\n<head>\n  <meta charset=\"UTF-8\" />\n  <title>Please Wait... | Cloudflare</title>\n  <meta name=\"robots\" content=\"noindex, nofollow\" />\n</head>\n<body>\n  <div id=\"cf-wrapper\">\n    <div id=\"cf-error-details\" class=\"cf-error-details-wrapper\">\n      <h1 data-translate=\"challenge_headline\">Please wait...</h1>\n      <h2 class=\"cf-subheadline\"><span data-translate=\"complete_sec_check\">Please stand by, while we are checking your browser...</span></h2>\n      <form id=\"challenge-form\" action=\"/?__cf_chl_jschl_tk__=abc\" method=\"POST\"></form>\n    </div>\n  </div>\n</body>\n</html>\n",
         [("Server", "cloudflare"), ("CF-RAY", "7a1b2c3d4e5f6a7d-BOM")]),
        ("cloudflare_error", "cf_1020.html", 403, "Cloudflare Error 1020 Access denied (abridged)",
         "<!DOCTYPE html>\n<head>\n<title>Access denied | www.example.com used Cloudflare to restrict access</title>\n<meta charset=\"UTF-8\" />\n</head>\n<body>\n<div id=\"cf-wrapper\">\n<div id=\"cf-error-details\"><h1><span class=\"cf-error-type\">Error</span><span class=\"cf-error-code\">1020</span></h1>\n<h2 class=\"cf-subheadline\">Access denied</h2>\n<p>This website is using a security service to protect itself from online attacks.</p>\n<p>Cloudflare Ray ID: <strong>8a1b2c3d4e5f6a7e</strong></p></div></div>\n</body>\n</html>\n",
         [("Server", "cloudflare"), ("CF-RAY", "8a1b2c3d4e5f6a7e-SIN")]),
        ("cloudflare_error", "cf_522.html", 522, "Cloudflare 522 connection timed out (abridged)",
         "<!DOCTYPE html>\n<head>\n<title>www.example.com | 522: Connection timed out</title>\n<meta charset=\"UTF-8\" />\n</head>\n<body>\n<div id=\"cf-wrapper\"><h1><span class=\"inline-block\">Connection timed out</span> <span class=\"code-label\">Error code 522</span></h1>\n<p>The initial connection between Cloudflare's network and the origin web server timed out. As a result, the web page can not be displayed.</p>\n<p>Cloudflare Ray ID: <strong>8a1b2c3d4e5f6a7f</strong></p></div>\n</body>\n</html>\n",
         [("Server", "cloudflare")]),
        ("cloudflare_error", "cf_error_code_1006.html", 403, "Cloudflare plain-text 'error code: 1006' (banned IP)",
         "error code: 1006", [("Server", "cloudflare"), ("Content-Type", "text/plain; charset=UTF-8")]),
        ("akamai_denied", "akamai_access_denied.html", 403, "Akamai edge 'Access Denied' with reference number",
         "<HTML><HEAD>\n<TITLE>Access Denied</TITLE>\n</HEAD><BODY>\n<H1>Access Denied</H1>\n \nYou don't have permission to access \"http&#58;&#47;&#47;www&#46;example&#46;com&#47;\" on this server.<P>\nReference&#32;&#35;18&#46;4f1c2217&#46;1741689123&#46;2a1b3c4d\n<P>https&#58;&#47;&#47;errors&#46;edgesuite&#46;net&#47;18&#46;4f1c2217&#46;1741689123&#46;2a1b3c4d</P>\n</BODY>\n</HTML>\n",
         [("Server", "AkamaiGHost"), ("Mime-Version", "1.0"), ("Content-Type", "text/html")]),
        ("akamai_denied", "akamai_error_page.html", 503, "Akamai error page comment",
         "<!-- AKAMAI ERROR PAGE -->\n<HTML><HEAD><TITLE>Service Unavailable - Zero size object</TITLE></HEAD><BODY><H1>Service Unavailable - Zero size object</H1>The server is temporarily unable to service your request.  Please try again later.<P>Reference&#32;&#35;15&#46;2c1f&#46;1741689999</BODY></HTML>\n",
         [("Server", "AkamaiGHost")]),
        ("imperva", "incapsula.html", 200, "Imperva/Incapsula bot check (abridged)",
         "<html style=\"height:100%\"><head><META NAME=\"ROBOTS\" CONTENT=\"NOINDEX, NOFOLLOW\"><meta name=\"format-detection\" content=\"telephone=no\"><meta name=\"viewport\" content=\"initial-scale=1.0\"><meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge,chrome=1\"></head><body style=\"margin:0px;height:100%\"><iframe id=\"main-iframe\" src=\"/_Incapsula_Resource?CWUDNSAI=24&xinfo=5-12345678-0%200NNN%20RT%281741689123%20111%29&incident_id=123000450012345678-98765432109876&edet=12&cinfo=04000000&rpinfo=0&mth=GET\" frameborder=0 width=\"100%\" height=\"100%\" marginheight=\"0px\" marginwidth=\"0px\">Request unsuccessful. Incapsula incident ID: 123000450012345678-98765432109876</iframe></body></html>",
         [("X-CDN", "Imperva"), ("X-Iinfo", "5-12345678-0 0NNN RT(1741689123 111) q(0 -1 -1 -1) r(0 -1)"), ("Set-Cookie", "visid_incap_123=abc; path=/")]),
        ("imperva", "imperva_blocked.html", 403, "Imperva WAF block page",
         "<html><head><title>Request Rejected</title></head><body>The requested URL was rejected. Please consult with your administrator.<br><br>Your support ID is: 14825736291846590123<br><br><a href='javascript:history.back();'>[Go Back]</a></body></html>",
         [("X-CDN", "Imperva")]),
        ("ddos_guard", "ddos_guard_check.html", 403, "DDoS-Guard browser check (abridged)",
         "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>DDoS-Guard</title></head><body><div id=\"ddg-l\"><div class=\"ddg-captcha\"><h1>Checking your browser before accessing example.ru</h1><p>This process is automatic. Your browser will redirect to your requested content shortly.</p><p>Please allow up to 5 seconds&hellip;</p></div><div class=\"ddg-footer\">DDoS protection by <a href=\"https://ddos-guard.net/\">DDOS-GUARD</a></div></div><script src=\"/.well-known/ddos-guard/check?context=free_splash\"></script></body></html>",
         [("Server", "ddos-guard"), ("Set-Cookie", "__ddg1_=abc; Domain=.example.ru; HttpOnly; Path=/")]),
        ("aws_waf", "cloudfront_403.html", 403, "CloudFront/AWS WAF 'Request blocked'",
         "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\" \"http://www.w3.org/TR/html4/loose.dtd\">\n<HTML><HEAD><META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=iso-8859-1\">\n<TITLE>ERROR: The request could not be satisfied</TITLE>\n</HEAD><BODY>\n<H1>403 ERROR</H1>\n<H2>The request could not be satisfied.</H2>\n<HR noshade size=\"1px\">\nRequest blocked.\nWe can't connect to the server for this app or website at this time. There might be too much traffic or a configuration error. Try again later, or contact the app or website owner.\n<BR clear=\"all\">\nIf you provide content to customers through CloudFront, you can find steps to troubleshoot and help prevent this error by reviewing the CloudFront documentation.\n<BR clear=\"all\">\n<HR noshade size=\"1px\">\n<PRE>\nGenerated by cloudfront (CloudFront)\nRequest ID: 3Jb1xQ9cV2n8pK7mW0zR5tY4uI6oP1aS2dF3gH4jK5lZ6xC7vB8nM9==\n</PRE>\n<ADDRESS>\n</ADDRESS>\n</BODY></HTML>",
         [("Server", "CloudFront"), ("X-Cache", "Error from cloudfront"), ("Via", "1.1 abcdef.cloudfront.net (CloudFront)"), ("X-Amz-Cf-Pop", "FRA56-P1")]),
        ("aws_waf", "aws_waf_captcha.html", 405, "AWS WAF CAPTCHA interstitial (abridged)",
         "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title></title><script type=\"text/javascript\" src=\"https://abc123.token.awswaf.com/abc123/challenge.js\"></script></head><body><div id=\"captcha-container\"></div><noscript><h1>JavaScript is disabled</h1>In order to continue, you need to verify that you're not a robot by solving a CAPTCHA puzzle. The CAPTCHA puzzle requires JavaScript. Enable JavaScript and then reload the page.</noscript><script>window.awsWafCookieDomainList = [];window.gokuProps = {\"key\":\"AQIDAHjcYu\",\"iv\":\"CgAGVTNd\",\"context\":\"abc\"};</script></body></html>",
         [("Server", "awselb/2.0"), ("x-amzn-waf-action", "captcha")]),
        ("sucuri", "sucuri_denied.html", 403, "Sucuri website firewall block (abridged); OONI lists it as a product row",
         "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sucuri WebSite Firewall - Access Denied</title></head><body><div id=\"main-container\"><h1>Access Denied - Sucuri Website Firewall</h1><p>If you are the site owner (or you manage this site), please whitelist your IP or if you think this block is an error please open a support ticket.</p><table><tr><td>Block ID:</td><td>GEO02</td></tr><tr><td>Block reason:</td><td>Access from your Country was disabled by the administrator.</td></tr></table><p>Sucuri WebSite Firewall - CloudProxy - Access Denied</p></div></body></html>",
         [("Server", "Sucuri/Cloudproxy"), ("X-Sucuri-ID", "15011"), ("X-Sucuri-Block", "GEO02")]),
        ("fastly_error", "fastly_error.html", 503, "Fastly 'Fastly error: unknown domain'",
         "Fastly error: unknown domain: www.example.org. Please check that this domain has been added to a service.\n\nDetails: cache-fra-eddf8230075-FRA", [("Server", "Varnish"), ("Content-Type", "text/plain")]),
        ("vercel_error", "vercel_404.html", 404, "Vercel DEPLOYMENT_NOT_FOUND",
         "The deployment could not be found on Vercel.\n\nDEPLOYMENT_NOT_FOUND\n\nfra1::abcde-1741689123456-0123456789ab\n", [("Server", "Vercel"), ("Content-Type", "text/plain; charset=utf-8")]),
        ("geo_restricted", "geo_451.html", 451, "a site that itself refuses visitors from some countries (451, the site's own page)",
         "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Unavailable For Legal Reasons</title></head><body><h1>Unavailable For Legal Reasons</h1><p>We are sorry, but this website is not available in your region because of the European Union's General Data Protection Regulation.</p></body></html>",
         [("Server", "nginx")]),
    ]
    for vendor, fname, status, note, html, hdrs in C:
        add(f"ordinary/cdn/{fname}", "ordinary", vendor, "", "en", "utf-8" if "iso-8859-1" not in html[:300] else "iso-8859-1",
            note, html, "https://www.example-protected.test/", status, hdrs, False)


def ordinary_parked_login():
    P = [
        ("parked_sedo", "sedo.html", "Sedo parking page (abridged)",
         "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>example-domain.com - This website is for sale! - example domain Resources and Information.</title><meta name=\"description\" content=\"This website is for sale! example-domain.com is your first and best source for information about example domain.\"></head><body><div id=\"container\"><h1>example-domain.com</h1><p>This domain may be for sale!</p><a href=\"https://sedo.com/search/details/?domain=example-domain.com\">Buy this domain</a><div class=\"related\"><h2>Related Searches</h2><ul><li>Online Courses</li><li>Web Hosting</li></ul></div></div><script src=\"//sedoparking.com/frmpark/example-domain.com/IONOSParkingDE/park.js\"></script></body></html>"),
        ("parked_godaddy", "godaddy.html", "GoDaddy parked domain (abridged)",
         "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>example-parked.net</title></head><body><div id=\"root\"><p>example-parked.net is parked free, courtesy of GoDaddy.com.</p><p>Get This Domain</p></div><script src=\"https://img1.wsimg.com/parking-lander/static/js/main.js\"></script></body></html>"),
        ("parked_parkio", "parkio.html", "park.io parked domain",
         "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>exampl.io - a really cool domain parked on Park.io</title></head><body><h1>exampl.io</h1><p>This domain is parked on Park.io. Make an offer.</p></body></html>"),
        ("parked_bodis", "bodis.html", "Bodis parking lander",
         "<!doctype html><html data-adblockkey=\"MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBANDrp2lz7AOmADaN8tA50LsWcjLFyQFcb/P2Txc58oYOeILb3vBw7J6f4pamkAQVSQuqYsKx3YzdUHCvbVZvFUsCAwEAAQ==\"><head><meta charset=\"utf-8\"><title></title></head><body><div id=\"target\" style=\"opacity: 0\"></div><script>window.park = \"eyJ1dWlkIjoiYWJjIn0=\";</script><script src=\"/bTRHuMJmQ.js\"></script></body></html>"),
        ("parked_registrar", "reg_ru.html", "Russian registrar's 'domain not delegated' page (windows-1251)", None),
        ("parked_registrar", "namecheap.html", "Namecheap registrar parking",
         "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Parked Domain name on Hostinger DNS system</title></head><body><h1>This domain is parked free of charge with NameCheap.com.</h1><p>Check back later for the new site.</p></body></html>"),
        ("parked_registrar", "cn_parked.html", "Chinese hosting 'site not bound' page (GBK)", None),
        ("parked_registrar", "coming_soon.html", "a 'coming soon' placeholder",
         "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Coming Soon</title></head><body><h1>Coming soon</h1><p>Our new website is on its way. Sign up to be notified.</p><form><input type=\"email\" name=\"email\"><button>Notify me</button></form></body></html>"),
        ("login_page", "wordpress_login.html", "WordPress wp-login.php (abridged)",
         "<!DOCTYPE html>\n<html lang=\"en-US\">\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" />\n<title>Log In &lsaquo; Example Blog &#8212; WordPress</title>\n<meta name='robots' content='max-image-preview:large, noindex, noarchive' />\n</head>\n<body class=\"login no-js login-action-login wp-core-ui  locale-en-us\">\n<div id=\"login\">\n<h1><a href=\"https://wordpress.org/\">Powered by WordPress</a></h1>\n<form name=\"loginform\" id=\"loginform\" action=\"https://blog.example/wp-login.php\" method=\"post\">\n<p><label for=\"user_login\">Username or Email Address</label><input type=\"text\" name=\"log\" id=\"user_login\" class=\"input\" value=\"\" size=\"20\" autocapitalize=\"off\" autocomplete=\"username\" required=\"required\" /></p>\n<div class=\"user-pass-wrap\"><label for=\"user_pass\">Password</label><input type=\"password\" name=\"pwd\" id=\"user_pass\" class=\"input password-input\" value=\"\" size=\"20\" autocomplete=\"current-password\" spellcheck=\"false\" required=\"required\" /></div>\n<p class=\"submit\"><input type=\"submit\" name=\"wp-submit\" id=\"wp-submit\" class=\"button button-primary button-large\" value=\"Log In\" /></p>\n</form>\n<p id=\"nav\"><a class=\"wp-login-lost-password\" href=\"https://blog.example/wp-login.php?action=lostpassword\">Lost your password?</a></p>\n</div>\n</body>\n</html>\n"),
        ("login_page", "router_login.html", "a home router's web login",
         "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Router Login</title></head><body><div class=\"login-box\"><h2>Welcome to your router</h2><form action=\"/cgi-bin/luci\" method=\"post\"><label>Username</label><input name=\"luci_username\" value=\"root\"><label>Password</label><input type=\"password\" name=\"luci_password\"><input type=\"submit\" value=\"Login\"></form><p>Powered by LuCI openwrt-23.05</p></div></body></html>"),
        ("login_page", "webmail_login.html", "Roundcube webmail login (abridged)",
         "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Roundcube Webmail :: Welcome to Roundcube Webmail</title></head><body class=\"task-login action-none\"><div id=\"layout\"><h1 class=\"voice\">Roundcube Webmail Login</h1><form id=\"login-form\" name=\"login-form\" method=\"post\" action=\"./?_task=login\"><input type=\"hidden\" name=\"_task\" value=\"login\"><table><tr><td class=\"title\"><label for=\"rcmloginuser\">Username</label></td><td class=\"input\"><input name=\"_user\" id=\"rcmloginuser\" required size=\"40\" autocapitalize=\"off\" autocomplete=\"off\" type=\"text\"></td></tr><tr><td class=\"title\"><label for=\"rcmloginpwd\">Password</label></td><td class=\"input\"><input name=\"_pass\" id=\"rcmloginpwd\" required size=\"40\" type=\"password\"></td></tr></table><button type=\"submit\" id=\"rcmloginsubmit\">Login</button></form></div></body></html>"),
        ("login_page", "bank_login_ru.html", "a Russian bank's login page (windows-1251)", None),
        ("login_page", "sso_login.html", "an SSO portal login (Keycloak, abridged)",
         "<!DOCTYPE html><html class=\"login-pf\"><head><meta charset=\"utf-8\"><title>Sign in to Example Corp</title></head><body><div class=\"login-pf-page\"><div id=\"kc-header\"><div id=\"kc-header-wrapper\">Example Corp</div></div><form id=\"kc-form-login\" action=\"https://sso.example.com/realms/corp/login-actions/authenticate?session_code=abc\" method=\"post\"><label for=\"username\">Username or email</label><input id=\"username\" name=\"username\" type=\"text\" autofocus><label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\"><input type=\"submit\" value=\"Sign In\"></form><p>Access denied? Contact your administrator.</p></div></body></html>"),
        ("login_page", "captive_portal.html", "a hotel Wi-Fi captive portal's login (the site's own page, fetched directly)",
         "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Guest Wi-Fi</title></head><body><h1>Welcome to Hotel Example Guest Wi-Fi</h1><p>Please accept the terms of use to access the internet.</p><form method=\"post\" action=\"/login\"><input type=\"checkbox\" name=\"accept\"> I accept<button>Connect</button></form></body></html>"),
    ]
    for vendor, fname, note, html in P:
        enc = "utf-8"
        lang = "en"
        if fname == "reg_ru.html":
            enc, lang = "windows-1251", "ru"
            html = f"<!DOCTYPE html><html lang=\"ru\"><head>{meta(enc)}<title>Домен не прилинкован к директории на сервере</title></head><body><h1>Домен example.ru не прилинкован к директории на сервере!</h1><p>Возможные причины: домен только что зарегистрирован, сайт не загружен.</p><p>Такого домена не существует. <br>Может быть, ошибка в адресе? Проверьте еще раз.</p></body></html>"
        elif fname == "cn_parked.html":
            enc, lang = "gbk", "zh-CN"
            html = f"<html><head>{meta(enc)}<title>没有找到站点</title></head><body><h1>没有找到站点</h1><p>您的请求在Web服务器中没有找到对应的站点！</p><p class=\"t1\">Your request did not find this site in the web server!</p><ul><li>您没有将此域名或IP绑定到对应站点!</li><li>配置文件未生效!</li></ul></body></html>"
        elif fname == "bank_login_ru.html":
            enc, lang = "windows-1251", "ru"
            html = f"<!DOCTYPE html><html lang=\"ru\"><head>{meta(enc)}<title>Интернет-банк — вход</title></head><body><form method=\"post\" action=\"/login\"><h1>Вход в интернет-банк</h1><label>Логин</label><input name=\"login\"><label>Пароль</label><input type=\"password\" name=\"password\"><button>Войти</button><p>Доступ к интернет-банку ограничен после трёх неверных попыток ввода пароля.</p></form></body></html>"
        add(f"ordinary/{'parked' if vendor.startswith('parked') else 'login'}/{fname}", "ordinary", vendor, "", lang, enc,
            note, html, f"http://www.{fname.split('.')[0].replace('_', '-')}.test/", 200,
            [("Server", "nginx")], enc == "utf-8")


def ordinary_sites():
    """Ordinary sites in many encodings, some with words like 'blocked' or 'access denied' in their text."""
    S = [
        ("ru", "windows-1251", "Погода в Москве", "Гисметео", ["Сегодня облачно, без осадков.", "Завтра ожидается снег."]),
        ("ru", "koi8-r", "Форум любителей рыбалки", "Рыболов", ["Тема: как выбрать спиннинг.", "Доступ к разделу «Барахолка» закрыт для новичков до 10 сообщений."]),
        ("uk", "koi8-u", "Новини Києва", "Київ Онлайн", ["У Києві відкрили новий міст.", "Рух транспорту заблоковано до вечора через ремонт."]),
        ("zh-CN", "gbk", "今日新闻", "网易", ["今天北京天气晴朗。", "股市小幅上涨。"]),
        ("zh-CN", "gb2312", "产品介绍", "某科技公司", ["我们的防火墙产品可以阻止恶意网站。", "访问被拒绝的情况请联系客服。"]),
        ("zh-TW", "big5", "台北旅遊指南", "旅遊網", ["台北101是著名的地標。", "夜市美食推薦。"]),
        ("ko", "euc-kr", "오늘의 날씨", "기상청", ["전국이 대체로 맑겠습니다.", "미세먼지 농도는 보통 수준입니다."]),
        ("ja", "shift_jis", "会社概要", "株式会社サンプル", ["弊社はソフトウェア開発を行っています。", "お問い合わせはこちら。"]),
        ("ja", "euc-jp", "商品一覧", "通販サイト", ["新商品が入荷しました。", "在庫切れの商品はアクセスできません。"]),
        ("ar", "windows-1256", "أخبار الرياضة", "الرياضية", ["فاز الفريق بالمباراة.", "تم حجب المقاعد للجماهير الزائرة."]),
        ("fa", "utf-8", "آشپزی ایرانی", "آشپزخانه", ["طرز تهیه قورمه سبزی.", "مواد لازم: سبزی، لوبیا قرمز."]),
        ("th", "windows-874", "ข่าวกีฬา", "สยามกีฬา", ["ทีมชาติไทยชนะ 2-0", "แฟนบอลแห่เชียร์"]),
        ("tr", "windows-1254", "Hava durumu", "Hürriyet", ["İstanbul'da hava güneşli.", "Yollar trafiğe kapandı."]),
        ("de", "iso-8859-1", "Öffnungszeiten", "Bäckerei Müller", ["Montag bis Freitag 6–18 Uhr.", "Zugang für Rollstuhlfahrer über den Hof."]),
        ("pl", "iso-8859-2", "Aktualności", "Gazeta Łódzka", ["Zażółć gęślą jaźń.", "Strona zablokowana dla reklam? Wyłącz AdBlocka."]),
        ("el", "iso-8859-7", "Ειδήσεις", "Καθημερινή", ["Καλός καιρός στην Αθήνα.", "Κλειστοί δρόμοι λόγω πορείας."]),
        ("en", "utf-16", "Company intranet notice", "Example Corp", ["This page is served as UTF-16 with a byte order mark.", "The web filter blocks social media during work hours."]),
        ("en", "utf-8", "Parental controls: how to block websites on your home router", "How-To Geek", ["Most routers let you block websites by name.", "Services like OpenDNS FamilyShield show a page saying 'This domain is blocked due to content filtering.' when a site is blocked."]),
        ("en", "utf-8", "Best VPNs for Russia in 2026", "VPN Review", ["If you see 'Access to the site is restricted', the site is in the Roskomnadzor register (rkn.gov.ru).", "Proton and Mullvad still work with obfuscation."]),
        ("id", "utf-8", "Cara mengatasi Internet Positif", "Tekno Blog", ["Jika muncul halaman Internet Positif, ganti DNS Anda.", "Situs yang diblokir tercantum di trustpositif.kominfo.go.id."]),
    ]
    for i, (lang, enc, title, site, paras) in enumerate(S, 1):
        html = article(lang, enc if enc != "utf-16" else "utf-16", title, site, paras)
        add(f"ordinary/sites/site_{i:02d}.html", "ordinary", "site_" + lang.lower().replace("-", ""), "", lang, enc,
            f"ordinary site page ({site}-style, written for this set)", html,
            f"https://www.site{i:02d}.test/", 200, [("Server", "nginx")], i % 2 == 0 or enc == "utf-16")


def main():
    ru_rkn_generic(); ru_rostelecom(); ru_mts(); ru_beeline(); ru_megafon(); ru_small_isps()
    id_pages(); ir_pages(); kr_pages(); tr_pages(); th_pages(); gulf_pages()
    netsweeper(); fortiguard(); paloalto(); products_misc(); national_misc()
    header_only_redirects({
        ("np_worldlink", "http://www.tinder.com/"): "http://blockdomain.worldlink.com.np/?url=www.tinder.com",
        ("by_national", "http://www.charter97.org/"): "https://internet.mts.by/blocked/",
        ("ru_rostelecom", "http://rutracker.org/"): "http://warning.rt.ru/?id=17&st=0&dt=195.82.146.214&rs=http://rutracker.org/",
        ("ru_mgts", "http://navalny.com/"): "http://blocked.mgts.ru/?url=navalny.com",
    })
    ordinary_news(); ordinary_defaults(); ordinary_errors(); ordinary_cdn(); ordinary_parked_login(); ordinary_sites()

    for d in ("blockpages", "ordinary"):
        shutil.rmtree(os.path.join(HERE, d), ignore_errors=True)
    seen = set()
    for p in PAGES:
        assert p["file"] not in seen, p["file"]
        seen.add(p["file"])
        codec = PYCODEC[p["encoding"]]
        data = p["html"].encode(codec, errors="xmlcharrefreplace")
        path = os.path.join(HERE, p["file"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    with open(os.path.join(HERE, "manifest.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["file", "label", "vendor", "country", "language", "encoding", "notes"])
        for p in PAGES:
            w.writerow([p["file"], p["label"], p["vendor"], p["country"], p["language"], p["encoding"], p["notes"]])
    with open(os.path.join(HERE, "http.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["file", "url", "status", "headers"])
        for p in PAGES:
            w.writerow([p["file"], p["url"], p["status"], "\n".join(f"{n}: {v}" for n, v in p["headers"])])
    blocks = [p for p in PAGES if p["label"] == "blockpage"]
    print(f"{len(blocks)} blockpages from {len({p['vendor'] for p in blocks})} vendors, "
          f"{len(PAGES) - len(blocks)} ordinary pages, encodings: {sorted({p['encoding'] for p in PAGES})}")


if __name__ == "__main__":
    main()
