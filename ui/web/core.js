'use strict';
// The touch screen is a renderer: it draws the daemon's state snapshot and
// sends intents. It keeps nothing but what is being typed, which is wiped
// whenever the session ends.
//
// core.js owns the connection, the strings, rendering and the wipe; each
// feature file (bills.js, ...) registers its screens, strings and home
// sections on window.TB before the page finishes loading.
(() => {
  const T = {
    zh: {
      title: '通办自助终端', connecting: '正在连接…', reconnecting: '与终端服务的连接中断，正在重连…',
      welcome: '请选择要办理的业务', payBills: '生活缴费',
      water: '水费', electricity: '电费', gas: '燃气费', heating: '暖气费',
      enterAccount: (u) => `请输入${u}户号`, accountHint: '户号印在缴费通知单上，6 至 20 位数字',
      typeDigits: '请用下方数字键输入', del: '退格', clear: '清空', lookup: '查询账单', back: '返回', cancel: '取消',
      looking: '正在查询账单…', payee: '收款单位', holder: '户名', period: '账期', due: '应缴金额', arrears: '其中欠费', prepaid: '预存余额',
      billPaid: '本期账单已缴清。继续缴费将全部存为预存款。',
      overpayNote: '本机不找零：多付的金额将作为预存款存入该户，下期自动抵扣。',
      payCash: '现金缴费', cashDown: '纸币器暂不可用，无法现金缴费',
      insertNotes: '请放入纸币', accepted: (v) => `可接收面额：${v} 元`, credit: '已投入', remaining: '还差', overpaid: '将预存',
      counting: '正在清点纸币，请稍候…', confirm: '确认缴费', cashLocked: '已投入现金，不能取消，请确认缴费（多付部分存为预存款）',
      paying: '正在提交缴费…', printing: '正在打印凭证…',
      doneTitle: '缴费成功', pendingTitle: '缴费已受理，待平台确认', refusedTitle: '缴费未被平台接受',
      paid: '实缴金额', applied: '抵扣账单', toPrepaid: '存为预存款', verifyCode: '验证码', reference: '流水参考号',
      receiptPrinted: '凭证已打印，请取走凭证。', receiptFailed: '凭证未能打印。请用手机扫描下方二维码保存电子凭证。',
      receiptPending: '凭证已打印，注明“待确认”。平台恢复后将自动完成入账，无需重复缴费。',
      refusedHelp: '您投入的现金已记录在案。请凭流水参考号联系网点工作人员处理，切勿重复缴费。',
      finish: '完成', yuan: '元',
      platformOffline: '暂时无法连接县级平台，缴费查询暂停。已投入的现金不会丢失。',
      accountInvalid: '户号应为 6 至 20 位数字', accountUnknown: '未找到该户号，请核对缴费通知单', noteRejected: '该纸币未被接收，请换一张或展平后重试',
      lookupFailed: '查询失败，请稍后再试', internalError: '终端内部错误，请联系工作人员',
      online: '在线', offline: '离线', notEnrolled: '未开通', printer: '打印机', billValidator: '纸币器', platform: '平台', terminal: '终端',
      sessionRestored: '终端刚刚重启，您已投入的现金已全部保留，可继续缴费。',
      offlineLimit: '平台暂不可达，本张纸币超出离线限额，已退回。',
      offlineCash: (a) => `平台暂不可达：本次最多可投入 ${a} 元，平台恢复后自动入账。`,
      voucherTitle: '已为您出具现金凭证', voucherAmount: '凭证金额', voucherId: '凭证号', voucherCode: '校验码',
      voucherWhy: { timeout: '缴费未确认，会话已超时', refused: '平台未受理本次缴费', recovered: '终端重启后会话中断', unattended: '无人值守时入账' },
      voucherPrinted: '凭证已打印，请取走。可在本终端下次缴费时抵用，或请网点工作人员退还现金。',
      voucherFailed: '凭证未能打印。请用手机拍下或扫描下方二维码，凭此向网点工作人员退款或下次缴费抵用。',
      voucherPrinting: '正在打印凭证…',
      payMobile: '手机扫码支付', showCode: '也可在下方扫码器出示微信、支付宝或云闪付付款码',
      mobileTitle: '请用手机扫码支付', mobileCreating: '正在生成收款码…', mobileWaiting: (s) => `等待支付，${s} 秒后自动取消`,
      mobileCode: '正在向钱包扣款，请在手机上确认…', mobileCancelling: '正在取消订单…',
      mobileNotPaid: '手机支付未完成，未扣款。可重新选择支付方式。', demoPayLink: '演示：打开手机支付页面',
      voucherUnknown: '凭证号或校验码不正确', voucherUsed: '该凭证已使用或已退款',
      demoTitle: '演示模式：模拟投入纸币', demoSent: (v) => `已投入 ${v} 元`, demoFail: '模拟器未响应',
      state: { online: '正常', offline: '离线', noDevice: '未连接', hardwareError: '故障', userError: '需处理', busy: '忙', starting: '启动中' },
    },
    en: {
      title: 'Tongban Self-Service', connecting: 'Connecting…', reconnecting: 'Lost the terminal service, reconnecting…',
      welcome: 'Choose a service', payBills: 'Pay utility bills',
      water: 'Water', electricity: 'Electricity', gas: 'Gas', heating: 'Heating',
      enterAccount: (u) => `Enter your ${u.toLowerCase()} account number`, accountHint: 'Printed on your bill: 6 to 20 digits',
      typeDigits: 'Use the keypad below', del: 'Delete', clear: 'Clear', lookup: 'Find bill', back: 'Back', cancel: 'Cancel',
      looking: 'Looking up the bill…', payee: 'Payee', holder: 'Account holder', period: 'Period', due: 'Amount due', arrears: 'of which arrears', prepaid: 'Prepaid balance',
      billPaid: 'This bill is already paid. Anything you pay now is kept as prepaid credit.',
      overpayNote: 'No change is given: any amount over the bill is kept as prepaid credit on this account.',
      payCash: 'Pay with cash', cashDown: 'The note acceptor is unavailable: cash payment is not possible',
      insertNotes: 'Insert notes', accepted: (v) => `Accepted notes: ${v} yuan`, credit: 'Inserted', remaining: 'Still due', overpaid: 'To prepaid',
      counting: 'Counting your note, please wait…', confirm: 'Confirm payment', cashLocked: 'Cash is inserted, so the session cannot be cancelled: please confirm (any excess becomes prepaid credit)',
      paying: 'Submitting your payment…', printing: 'Printing your receipt…',
      doneTitle: 'Payment complete', pendingTitle: 'Payment accepted, awaiting platform confirmation', refusedTitle: 'The platform did not accept the payment',
      paid: 'Paid', applied: 'Applied to bill', toPrepaid: 'Kept as prepaid', verifyCode: 'Verification code', reference: 'Reference',
      receiptPrinted: 'Your receipt has been printed. Please take it.', receiptFailed: 'The receipt could not be printed. Scan the QR code below to keep an electronic receipt.',
      receiptPending: 'Your receipt is marked "pending". The payment will be completed when the platform is back; do not pay again.',
      refusedHelp: 'Your cash is recorded. Please show the reference to the staff at this site; do not pay again.',
      finish: 'Done', yuan: 'yuan',
      platformOffline: 'The county platform cannot be reached; bill lookup is paused. Cash already inserted is safe.',
      accountInvalid: 'An account number has 6 to 20 digits', accountUnknown: 'No such account: please check your bill', noteRejected: 'That note was not accepted: try another, or flatten it',
      lookupFailed: 'Lookup failed, please try again later', internalError: 'Terminal error: please ask the staff',
      online: 'online', offline: 'offline', notEnrolled: 'not enrolled', printer: 'Printer', billValidator: 'Note acceptor', platform: 'Platform', terminal: 'Terminal',
      sessionRestored: 'The terminal restarted just now. All the cash you inserted is kept: you can carry on.',
      offlineLimit: 'The platform is unreachable and that note is over the offline limit: it was returned.',
      offlineCash: (a) => `The platform is unreachable: up to ${a} yuan can be taken now, booked when it is back.`,
      voucherTitle: 'A credit voucher was issued', voucherAmount: 'Voucher amount', voucherId: 'Voucher no.', voucherCode: 'Check code',
      voucherWhy: { timeout: 'the payment was not confirmed in time', refused: 'the platform did not accept the payment', recovered: 'the session was interrupted by a restart', unattended: 'cash arrived with no session open' },
      voucherPrinted: 'Your voucher has been printed. Use it for your next payment here, or ask the staff to refund it in cash.',
      voucherFailed: 'The voucher could not be printed. Photograph or scan this QR code: the staff refund it, or use it for your next payment.',
      voucherPrinting: 'Printing your voucher…',
      payMobile: 'Pay by phone (QR)', showCode: 'Or show your WeChat, Alipay or UnionPay payment code to the scanner below',
      mobileTitle: 'Scan with your phone to pay', mobileCreating: 'Creating the payment code…', mobileWaiting: (s) => `Waiting for payment; cancelled automatically in ${s} s`,
      mobileCode: 'Charging your wallet: confirm on your phone if asked…', mobileCancelling: 'Cancelling the order…',
      mobileNotPaid: 'The mobile payment did not go through and nothing was charged. Choose how to pay again.', demoPayLink: 'Demo: open the phone payment page',
      voucherUnknown: 'Wrong voucher number or check code', voucherUsed: 'This voucher was already used or refunded',
      demoTitle: 'Demo: insert simulated notes', demoSent: (v) => `Inserted ${v} yuan`, demoFail: 'Simulator did not answer',
      state: { online: 'OK', offline: 'offline', noDevice: 'not connected', hardwareError: 'fault', userError: 'needs attention', busy: 'busy', starting: 'starting' },
    },
  };

  let lang = 'zh';
  let snap = null;
  let ws = null;
  let nextId = 1;
  const waiting = new Map();
  const screens = {};      // screen name -> (snapshot) => nodes
  const homeSections = []; // (snapshot) => nodes, in registration order
  const wipers = [];       // called when a session ends
  const afterRender = [];  // (snapshot) => void, after every render (resident.js: idle dialog)
  const ticking = new Set(); // screens redrawn every second (countdowns)

  const t = (k, ...a) => { const v = T[lang][k] ?? T.zh[k]; return typeof v === 'function' ? v(...a) : (v ?? k); };
  const yuan = (fen) => (fen / 100).toFixed(2);
  const $ = (id) => document.getElementById(id);

  // h builds DOM nodes; text always goes through textContent, so nothing
  // the platform sends can become markup.
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === false || v == null) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of kids.flat()) if (c != null && c !== false) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return el;
  }

  function connect() {
    ws = new WebSocket(`ws://${location.host}/ws`, 'tongban.ui.v1');
    ws.onopen = () => { document.body.dataset.ws = 'open'; banner(); };
    ws.onclose = () => {
      document.body.dataset.ws = 'closed';
      for (const [, w] of waiting) w.reject(new Error('connection lost'));
      waiting.clear();
      banner(t('reconnecting'), true);
      setTimeout(connect, 1000);
    };
    ws.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch { return; }
      const hd = m.header || {};
      if (hd.type === 'unsolicited' && hd.name === 'Terminal.StateChanged') { apply(m.payload); return; }
      const w = waiting.get(hd.requestId);
      if (!w) return;
      if (hd.type === 'acknowledge' && hd.status) { waiting.delete(hd.requestId); w.reject(new Error(hd.status)); }
      if (hd.type === 'completion') { waiting.delete(hd.requestId); hd.completionCode === 'success' ? w.resolve(m.payload) : w.reject(Object.assign(new Error(hd.errorDescription || hd.completionCode), { code: hd.completionCode })); }
    };
  }

  function send(name, payload) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(new Error('not connected'));
    const requestId = nextId++;
    ws.send(JSON.stringify({ header: { type: 'command', name, requestId, version: '1.0' }, payload: payload || {} }));
    return new Promise((resolve, reject) => waiting.set(requestId, { resolve, reject }));
  }
  // act sends an intent; refusals are shown through the next snapshot, so
  // a failed promise needs no handling beyond not being unhandled.
  const act = (name, payload) => send(name, payload).catch(() => {});

  function apply(s) {
    const prevSession = snap && snap.session;
    snap = s;
    // Snapshots can be merged, so one resident's session may be followed
    // straight by the next one's: any change away from a session ends it.
    if (s.session !== prevSession) wipe(!s.session || !!prevSession);
    render();
  }

  // wipe forgets what the page holds of the last resident; when the session
  // has ended it also goes back to Chinese and clears storage.
  function wipe(ended) {
    for (const f of wipers) f(ended);
    if (!ended) return;
    lang = 'zh';
    try { sessionStorage.clear(); localStorage.clear(); } catch { /* storage may be disabled */ }
  }

  function banner(text, err) {
    const b = $('banner');
    if (!text) { b.hidden = true; b.textContent = ''; return; }
    b.hidden = false; b.textContent = text; b.className = 'banner' + (err ? ' err' : '');
  }

  // A tap is a press and a release on the same element: redrawing between
  // the two (a device status arriving) would replace the button and lose
  // the tap. So a redraw waits while a finger or the mouse is down, and
  // runs after the release's click.
  let pressing = false;
  let deferred = false;
  document.addEventListener('pointerdown', () => { pressing = true; }, true);
  const release = () => {
    pressing = false;
    if (deferred) { deferred = false; setTimeout(render, 0); }
  };
  document.addEventListener('pointerup', release, true);
  document.addEventListener('pointercancel', release, true);

  function render() {
    if (pressing) { deferred = true; return; }
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    $('lang').textContent = lang === 'zh' ? 'English' : '中文';
    for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
    if (!snap) return;
    const main = $('app');
    main.dataset.screen = snap.screen;
    const draw = screens[snap.screen];
    const nodes = draw ? draw(snap) : [h('p', {}, snap.screen)];
    main.replaceChildren(...[nodes].flat(Infinity).filter((n) => n != null && n !== false));
    if (!snap.services.platformOnline) banner(t('platformOffline'), true);
    else if (ws && ws.readyState === WebSocket.OPEN) banner();
    renderStatus();
    renderDemo();
    for (const f of afterRender) f(snap);
  }

  function notice(s) {
    if (!s.notice) return null;
    return h('p', { class: 'err', id: 'notice', role: 'alert' }, '⚠ ', t(s.notice.code) !== s.notice.code ? t(s.notice.code) : s.notice.message);
  }

  screens.home = (s) => [h('h1', {}, t('welcome')), homeSections.map((f) => f(s))];

  function renderStatus() {
    const parts = [];
    const st = (k, state) => `${t(k)}: ${T[lang].state[state] || state}`;
    // An unprovisioned terminal has no platform yet: say so, not "online".
    parts.push(`${t('platform')}: ${snap.screen === 'unprovisioned' ? t('notEnrolled') : snap.services.platformOnline ? t('online') : t('offline')}`);
    for (const role of ['billValidator', 'printer']) if (snap.devices[role]) parts.push(st(role, snap.devices[role].state));
    $('status').textContent = parts.join(' · ');
    $('terminal').textContent = `${t('terminal')} ${snap.terminal}`;
  }

  // The demo panel talks to the simulator, never to the daemon: a screen
  // must not be able to create credit.
  function renderDemo() {
    const d = $('demo');
    if (!snap.demo) { d.hidden = true; return; }
    d.hidden = false;
    const box = $('demo-notes');
    if (box.childElementCount) return;
    for (const v of [1, 5, 10, 20, 50, 100]) {
      box.append(h('button', { type: 'button', id: `demo-insert-${v}`, onclick: async () => {
        try {
          const r = await fetch(`${snap.demo.simControl}/insert`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ value: v * 100 }) });
          $('demo-msg').textContent = r.ok ? t('demoSent', v) : `${t('demoFail')}: ${await r.text()}`;
        } catch { $('demo-msg').textContent = t('demoFail'); }
      } }, `¥${v}`));
    }
  }

  // TB is what feature files see. It is frozen: features add screens and
  // strings through it but cannot replace the core.
  window.TB = Object.freeze({
    h, t, yuan, $, act, send, notice, render,
    lang: () => lang,
    strings: (zh, en) => { Object.assign(T.zh, zh); Object.assign(T.en, en); },
    table: (k) => T[lang][k] ?? T.zh[k],
    tableIn: (l, k) => T[l][k] ?? T.zh[k],
    screen: (name, draw, opts) => { screens[name] = draw; if (opts && opts.tick) ticking.add(name); },
    home: (f) => homeSections.push(f),
    onWipe: (f) => wipers.push(f),
    onRender: (f) => afterRender.push(f),
  });

  setInterval(() => { if (snap && ticking.has(snap.screen)) render(); }, 1000);
  $('lang').addEventListener('click', () => { lang = lang === 'zh' ? 'en' : 'zh'; if (snap && snap.session) act('Session.Touch'); render(); });
  document.addEventListener('DOMContentLoaded', () => { render(); connect(); });
})();
