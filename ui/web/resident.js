'use strict';
// For every resident: the elder mode switch, the "need more time?" idle
// dialog (the daemon owns the timer; the page only counts down to its
// deadline), the plain messages of a degraded terminal, and the page's
// part of the wipe when a session ends.
(() => {
  const { h, t, yuan, act, $ } = TB;

  TB.strings({
    elderMode: '长者模式', elderOn: '长者模式：开', elderOff: '长者模式',
    idleTitle: '还需要更多时间吗？', idleLeft: (n) => `${n} 秒后将结束本次办理`, idleLeftCredit: (n) => `${n} 秒后将为您已投入的现金打印现金凭证`,
    idleMore: '需要，继续办理', idleEnd: '不用了，结束',
    degradedTitle: '部分功能暂不可用', stillWorks: '仍可办理：',
    offlineTitle: '县级平台暂时无法连接', offlineWhat: '暂停：查询新账单、手机支付。',
    offlineCashOk: (per, left) => `仍可：对断网前已查询到的账单用现金缴费，每笔最多 ${per} 元（本机剩余离线额度 ${left} 元），平台恢复后自动入账；已投入的现金不会丢失。`,
    printerDownHome: '打印机暂不可用：缴费凭证将以二维码显示在屏幕上，可用手机扫描保存。',
    cashDownHome: '纸币器暂不可用：请使用手机扫码支付。', cashDownCoins: '纸币器暂不可用：可投硬币或使用手机扫码支付。',
    scannerDownHome: '扫码器暂不可用：请在屏幕上手动输入户号；付款码暂不能使用，可用屏幕收款码支付。',
    scanHint: '也可将缴费通知单上的条形码对准下方扫码器，自动查询账单', scanDown: '扫码器暂不可用，请手动输入户号',
    billPaidAt: (at) => `本期账单已于 ${at} 缴清。`, billPaidTopUp: '继续缴费将全部存为预存款。',
    paidElsewhere: (m, a) => `该户 ${m} 分钟前已在其他终端或渠道缴费 ${a} 元。请核对账单，避免重复缴费。`,
    paidHere: (m, a) => `该户 ${m} 分钟前已在本终端缴费 ${a} 元。请核对账单，避免重复缴费。`,
    billChanged: '账单刚刚发生变化（可能已在别处缴费），请核对后再选择缴费方式。尚未收取任何款项。',
    scanBillBusy: '请先完成当前缴费，再扫描其他缴费通知单。',
    printerDownOffer: '打印机暂不可用（可能缺纸）。本次缴费凭证将以二维码显示在屏幕上，可用手机扫描保存，与纸质凭证同样有效。尚未收取任何款项。',
    acceptOnScreen: '使用屏幕电子凭证，继续缴费', onScreenChosen: '已选择屏幕电子凭证：缴费后请用手机扫描二维码保存。',
    useMobile: '，请使用手机扫码支付。', insertCoins: '请投入硬币', coinsToo: '也可投入硬币（1 元、5 角、1 角），计入已投入金额。',
    receiptOnScreen: '这是您的电子凭证：请用手机扫描下方二维码保存。缴费已完成，无需重复缴费。',
    reprint: '重打凭证', reprinting: '正在打印凭证副本…', reprinted: '凭证副本已打印（标注“重打”），请取走。',
    reprintFailed: '凭证副本未能打印。缴费已完成，无需重复缴费。', reprintNoPrinter: '打印机暂不可用，无法重打。缴费已完成，无需重复缴费。',
  }, {
    elderMode: 'Elder mode', elderOn: 'Elder mode: on', elderOff: 'Elder mode',
    idleTitle: 'Need more time?', idleLeft: (n) => `This visit ends in ${n} s`, idleLeftCredit: (n) => `In ${n} s a credit voucher is printed for the cash you inserted`,
    idleMore: 'Yes, I need more time', idleEnd: 'No, finish',
    degradedTitle: 'Some services are unavailable', stillWorks: 'Still available:',
    offlineTitle: 'The county platform cannot be reached', offlineWhat: 'Paused: looking up new bills and paying by phone.',
    offlineCashOk: (per, left) => `Still possible: cash payment of a bill looked up before the outage, up to ${per} yuan per payment (${left} yuan left at this terminal), booked when the platform is back. Cash already inserted is safe.`,
    printerDownHome: 'The printer is unavailable: your receipt is shown as a QR code on screen to scan with your phone.',
    cashDownHome: 'The note acceptor is unavailable: please pay by phone.', cashDownCoins: 'The note acceptor is unavailable: pay with coins or by phone.',
    scannerDownHome: 'The scanner is unavailable: type your account number on screen; payment codes cannot be read, but the on-screen payment QR works.',
    scanHint: 'Or hold the barcode on your bill to the scanner below to look it up', scanDown: 'The scanner is unavailable: please type the account number',
    billPaidAt: (at) => `This bill was paid on ${at}. `, billPaidTopUp: 'Anything you pay now is kept as prepaid credit.',
    paidElsewhere: (m, a) => `${a} yuan was paid on this account ${m} min ago at another terminal or channel. Check the bill so you do not pay twice.`,
    paidHere: (m, a) => `${a} yuan was paid on this account ${m} min ago at this terminal. Check the bill so you do not pay twice.`,
    billChanged: 'The bill has just changed (paid elsewhere?). Check it, then choose how to pay. Nothing has been taken.',
    scanBillBusy: 'Finish the payment in progress before scanning another bill.',
    printerDownOffer: 'The printer is unavailable (out of paper?). Your receipt will be shown as a QR code on screen to keep with your phone; it is as valid as a paper one. Nothing has been taken yet.',
    acceptOnScreen: 'Use the on-screen receipt and pay', onScreenChosen: 'On-screen receipt chosen: scan its QR code with your phone after paying.',
    useMobile: ': please pay by phone.', insertCoins: 'Insert coins', coinsToo: 'Coins (1 yuan, 5 jiao, 1 jiao) are taken too and count in the total.',
    receiptOnScreen: 'This is your electronic receipt: scan the QR code below with your phone. The payment is complete; do not pay again.',
    reprint: 'Reprint receipt', reprinting: 'Printing a copy…', reprinted: 'A copy was printed (marked "reprint"). Please take it.',
    reprintFailed: 'The copy could not be printed. The payment is complete; do not pay again.', reprintNoPrinter: 'The printer is unavailable, so no copy can be printed. The payment is complete; do not pay again.',
  });

  // Elder mode is a display choice of the person at the screen, so it ends
  // with their session, like the language.
  let elder = false;
  function setElder(on) {
    elder = on;
    document.documentElement.classList.toggle('elder', on);
    const b = $('elder');
    b.setAttribute('aria-pressed', String(on));
    b.textContent = on ? `✔ ${t('elderOn')}` : t('elderOff');
  }
  $('elder').addEventListener('click', () => {
    setElder(!elder);
    TB.act('Session.Touch');
  });

  // The idle dialog lives outside #app so the screen under it keeps its
  // state; only the seconds text changes while it counts down.
  let idleTimer = null;
  let idleDeadline = 0;
  function drawIdle(s) {
    const box = $('idle-dialog');
    const show = s && s.session && s.idle && s.idle.warning;
    if (!show) {
      if (!box.hidden) { box.hidden = true; box.replaceChildren(); }
      clearInterval(idleTimer); idleTimer = null;
      return;
    }
    idleDeadline = s.idle.deadline;
    const left = () => Math.max(0, Math.ceil((idleDeadline - Date.now()) / 1000));
    const say = () => (s.idle.credit ? t('idleLeftCredit', left()) : t('idleLeft', left()));
    box.replaceChildren(h('div', { class: 'idle-box' },
      h('h2', { id: 'idle-title' }, '⚠ ', t('idleTitle')),
      h('p', { class: 'idle-count' }, h('span', { id: 'idle-seconds', class: 'big' }, String(left())), ' ', h('span', { id: 'idle-left' }, say())),
      h('div', { class: 'actions' },
        s.idle.credit ? null : h('button', { type: 'button', class: 'secondary', id: 'btn-idle-end', onclick: () => act('Session.Cancel') }, t('idleEnd')),
        h('button', { type: 'button', class: 'primary', id: 'btn-idle-more', onclick: () => act('Session.Extend') }, t('idleMore')))));
    box.hidden = false;
    clearInterval(idleTimer);
    idleTimer = setInterval(() => {
      const sec = $('idle-seconds'); const txt = $('idle-left');
      if (sec) sec.textContent = String(left());
      if (txt) txt.textContent = say();
    }, 250);
  }

  // Labels that are not drawn by a screen (the header's switch) follow the
  // language on every render.
  // The first screen drawn from a snapshot, and its paint, are marked for
  // the first-paint budget (kiosk/cmd/kioskd/resident_budget_test.go).
  let marked = false;
  TB.onRender((s) => {
    if (!marked && s) {
      marked = true;
      performance.mark('tb-first-screen');
      requestAnimationFrame(() => setTimeout(() => performance.mark('tb-first-screen-painted'), 0));
    }
    const b = $('elder');
    b.textContent = elder ? `✔ ${t('elderOn')}` : t('elderOff');
    drawIdle(s);
  });

  // The page's part of the wipe: what the person chose for the display,
  // the dialog, and the browser's record of the receipt QR requests (their
  // URLs carry the verification link).
  TB.onWipe((ended) => {
    drawIdle(null);
    try { performance.clearResourceTimings(); } catch { /* not available */ }
    if (ended) setElder(false);
  });

  // What a degraded terminal can still do, said on the home screen: only
  // what needs a missing part is taken away.
  TB.home((s) => {
    const sv = s.services;
    const items = [];
    const dev = (role) => s.devices[role];
    if (dev('printer') && !sv.printerReady) items.push(h('li', { id: 'degraded-printer' }, '✖ ', t('printerDownHome')));
    if (dev('billValidator') && dev('billValidator').state !== 'online') {
      const coins = dev('coinAcceptor') && dev('coinAcceptor').state === 'online';
      items.push(h('li', { id: 'degraded-cash' }, '✖ ', coins ? t('cashDownCoins') : t('cashDownHome')));
    }
    if (dev('scanner') && !sv.scannerReady) items.push(h('li', { id: 'degraded-scanner' }, '✖ ', t('scannerDownHome')));
    if (!sv.platformOnline) {
      const per = s.offline ? yuan(s.offline.perPayment) : '';
      const left = s.offline ? yuan(s.offline.remaining) : '';
      return h('section', { class: 'degraded offline-panel', id: 'offline-panel', role: 'status' },
        h('h2', { class: 'err' }, '⚠ ', t('offlineTitle')),
        h('p', {}, t('offlineWhat')),
        h('p', { id: 'offline-still' }, t('offlineCashOk', per, left)),
        items.length ? h('ul', {}, items) : null);
    }
    if (!items.length) return null;
    return h('section', { class: 'degraded', id: 'degraded-panel', role: 'status' },
      h('h2', { class: 'warn' }, '⚠ ', t('degradedTitle')), h('ul', {}, items));
  });
})();
